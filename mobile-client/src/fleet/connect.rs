//! The gRPC connection to the emulator, with the bearer token on every call.

use std::time::Duration;

use mcc_proto::v1::emulator_control_client::EmulatorControlClient;
use tonic::metadata::MetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use super::FleetError;

/// How long connecting may take before the emulator counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Adds `authorization: Bearer TOKEN` to every call (nothing without a token).
#[derive(Debug, Clone)]
pub struct Bearer(Option<MetadataValue<tonic::metadata::Ascii>>);

impl tonic::service::Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// The bearer token stored in the file `path` (its whole text, without one
/// trailing line break), for `--token-file`: a token in a file stays out of
/// the process list, where `--token` would show it.
pub fn token_from_file(path: &std::path::Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--token-file {}: cannot read it: {e}", path.display()))?;
    let token = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text);
    if token.is_empty() {
        return Err(format!(
            "--token-file {}: the file is empty; it must hold the token",
            path.display()
        ));
    }
    Ok(token.to_owned())
}

/// A client of the `EmulatorControl` service. Cheap to clone: clones share
/// one HTTP/2 connection.
pub type Client = EmulatorControlClient<InterceptedService<Channel, Bearer>>;

/// Connects to the emulator at `url` (TCP_NODELAY on), sending `token` as a
/// bearer token on every call when given.
pub async fn connect(url: &str, token: Option<&str>) -> Result<Client, FleetError> {
    let unreachable = |reason: String| FleetError::Unreachable {
        url: url.to_owned(),
        reason,
    };
    let bearer = match token {
        Some(token) => Some(
            format!("Bearer {token}")
                .parse::<MetadataValue<_>>()
                .map_err(|_| {
                    FleetError::Config(
                        "--token must be printable ASCII (it travels as gRPC metadata)".into(),
                    )
                })?,
        ),
        None => None,
    };
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(FleetError::Config(format!(
            "--emulator {url:?}: expected a URL like http://127.0.0.1:50051"
        )));
    }
    let endpoint = Endpoint::from_shared(url.to_owned())
        .map_err(|e| FleetError::Config(format!("--emulator {url:?} is not a URL: {e}")))?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true);
    let channel = endpoint
        .connect()
        .await
        .map_err(|e| unreachable(error_chain(&e)))?;
    Ok(
        EmulatorControlClient::with_interceptor(channel, Bearer(bearer))
            .max_decoding_message_size(16 << 20),
    )
}

/// An error and its causes on one line (`a: b: c`), without repeats.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_file_gives_its_text_without_the_last_line_break() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("token");
        for (text, token) in [
            ("s3cret\n", "s3cret"),
            ("s3cret\r\n", "s3cret"),
            ("s3cret", "s3cret"),
        ] {
            std::fs::write(&file, text).expect("written");
            assert_eq!(token_from_file(&file).as_deref(), Ok(token));
        }
        std::fs::write(&file, "\n").expect("written");
        let empty = token_from_file(&file).unwrap_err();
        assert!(
            empty.contains("is empty") && empty.contains("token"),
            "{empty}"
        );
        let missing = token_from_file(&dir.path().join("nope")).unwrap_err();
        assert!(
            missing.contains("nope") && missing.contains("cannot read"),
            "{missing}"
        );
    }
}
