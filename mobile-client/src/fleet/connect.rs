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
