//! Who may call: loopback by default, a bearer token everywhere else.
//!
//! `mcc-emu serve` refuses to listen on an address other than loopback
//! without a token ([`check_listen_address`]): the service can make the
//! emulator read files it can read (trace paths, scenario files) and stop
//! the edge. With a token, every call must carry the metadata
//! `authorization: Bearer TOKEN` ([`BearerCheck`]); the comparison takes the
//! same time whatever the token's content.

use std::net::SocketAddr;
use std::sync::Arc;

use tonic::{Request, Status};

/// The metadata key a client puts its token in.
pub const AUTHORIZATION_KEY: &str = "authorization";

/// Why a listen address and token cannot be used together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ListenError(String);

/// Checks the token a person gave and that a non-loopback `address` has
/// one: anyone who can reach such an address could otherwise drive the
/// emulator.
pub fn check_listen_address(address: SocketAddr, token: Option<&str>) -> Result<(), ListenError> {
    if let Some(token) = token {
        check_token_text(token)?;
    }
    if !address.ip().is_loopback() && token.is_none() {
        return Err(ListenError(format!(
            "refusing to listen on {address} without --token: every host that can reach it \
             could drive the emulator; pass --token TOKEN or --token-file FILE (clients then \
             send `authorization: Bearer TOKEN`), or listen on 127.0.0.1"
        )));
    }
    Ok(())
}

/// Checks the token rule for an HTTP endpoint's `address` (named by its
/// option, `flag`, in errors), then binds it: the listener and the address
/// it bound (the port a `:0` request picked).
pub async fn bind_checked(
    flag: &str,
    address: SocketAddr,
    token: Option<&str>,
) -> anyhow::Result<(tokio::net::TcpListener, SocketAddr)> {
    check_listen_address(address, token).map_err(|e| anyhow::anyhow!("{flag} {address}: {e}"))?;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| anyhow::anyhow!("{flag}: cannot listen on {address}: {e}"))?;
    let bound = listener
        .local_addr()
        .map_err(|e| anyhow::anyhow!("{flag}: reading the bound address: {e}"))?;
    Ok((listener, bound))
}

/// A token must be non-empty visible ASCII with no spaces (it travels as
/// gRPC metadata after `Bearer `).
fn check_token_text(token: &str) -> Result<(), ListenError> {
    if token.is_empty() {
        return Err(ListenError("--token must not be empty".into()));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ListenError(
            "--token must be visible ASCII without spaces (it travels as gRPC metadata)".into(),
        ));
    }
    Ok(())
}

/// A tonic interceptor that lets a call through only with the right bearer
/// token (every call, streaming ones included); `None` lets every call through.
#[derive(Clone, Debug)]
pub struct BearerCheck {
    expected: Option<Arc<[u8]>>,
}

impl BearerCheck {
    /// Checks for `token`; `None` checks nothing (loopback without a token).
    pub fn new(token: Option<&str>) -> Self {
        Self {
            expected: token.map(|t| Arc::from(format!("Bearer {t}").into_bytes())),
        }
    }
}

impl tonic::service::Interceptor for BearerCheck {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let Some(expected) = &self.expected else {
            return Ok(request);
        };
        let Some(given) = request.metadata().get(AUTHORIZATION_KEY) else {
            return Err(Status::unauthenticated(
                "this emulator needs a token: send the metadata `authorization: Bearer TOKEN`",
            ));
        };
        if constant_time_eq(given.as_bytes(), expected) {
            Ok(request)
        } else {
            Err(Status::unauthenticated(
                "wrong token in the `authorization` metadata (expected `Bearer TOKEN` with the \
                 token mcc-emu serve was started with)",
            ))
        }
    }
}

/// Whether `a` and `b` are equal, in a time that depends only on their
/// lengths (not on where they first differ).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let longest = a.len().max(b.len());
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..longest {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::service::Interceptor;

    fn call_with(check: &mut BearerCheck, header: Option<&str>) -> Result<(), Status> {
        let mut request = Request::new(());
        if let Some(h) = header {
            request
                .metadata_mut()
                .insert(AUTHORIZATION_KEY, h.parse().unwrap());
        }
        check.call(request).map(|_| ())
    }

    #[test]
    fn the_right_token_passes_and_a_wrong_or_missing_one_is_unauthenticated() {
        let mut check = BearerCheck::new(Some("s3cret"));
        assert!(call_with(&mut check, Some("Bearer s3cret")).is_ok());
        for bad in [
            Some("Bearer s3cre"),
            Some("Bearer s3cret2"),
            Some("s3cret"),
            None,
        ] {
            let status = call_with(&mut check, bad).unwrap_err();
            assert_eq!(status.code(), tonic::Code::Unauthenticated, "{bad:?}");
            assert!(status.message().contains("authorization"), "{status:?}");
        }
        let mut open = BearerCheck::new(None);
        assert!(call_with(&mut open, None).is_ok());
    }

    #[test]
    fn equality_in_constant_time_agrees_with_plain_equality() {
        for (a, b) in [
            ("", ""),
            ("a", ""),
            ("abc", "abc"),
            ("abc", "abd"),
            ("ab", "abc"),
        ] {
            assert_eq!(
                constant_time_eq(a.as_bytes(), b.as_bytes()),
                a == b,
                "{a:?} {b:?}"
            );
        }
    }

    #[test]
    fn a_public_address_needs_a_token_and_loopback_does_not() {
        let public: SocketAddr = "0.0.0.0:50051".parse().unwrap();
        let message = check_listen_address(public, None).unwrap_err().to_string();
        assert!(
            message.contains("--token") && message.contains("0.0.0.0:50051"),
            "{message}"
        );
        assert!(check_listen_address(public, Some("t0ken")).is_ok());
        assert!(check_listen_address("127.0.0.1:0".parse().unwrap(), None).is_ok());
        assert!(check_listen_address("[::1]:0".parse().unwrap(), None).is_ok());
        assert!(check_listen_address(public, Some("")).is_err());
        assert!(check_listen_address(public, Some("two words")).is_err());
    }
}
