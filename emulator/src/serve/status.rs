//! Edge errors as gRPC statuses: one code per kind, the edge's message as it is.

use tonic::{Code, Status};

use crate::realclock::{ErrorKind, RealClockError};

/// The gRPC code an edge error kind stands for.
pub fn code_of(kind: ErrorKind) -> Code {
    match kind {
        ErrorKind::NotFound => Code::NotFound,
        ErrorKind::InvalidArgument => Code::InvalidArgument,
        ErrorKind::AlreadyExists => Code::AlreadyExists,
        ErrorKind::Unavailable => Code::Unavailable,
        ErrorKind::FailedPrecondition => Code::FailedPrecondition,
        ErrorKind::Internal => Code::Internal,
        ErrorKind::ResourceExhausted => Code::ResourceExhausted,
    }
}

/// The metadata key of a retry hint in milliseconds (gRFC A6, "Pushback").
pub const RETRY_PUSHBACK_KEY: &str = "grpc-retry-pushback-ms";

impl From<RealClockError> for Status {
    /// A `RESOURCE_EXHAUSTED` carries [`RETRY_PUSHBACK_KEY`]: when to retry.
    fn from(error: RealClockError) -> Self {
        let mut status = Status::new(code_of(error.kind), error.message);
        if error.kind == ErrorKind::ResourceExhausted {
            let ms = crate::realclock::admission::RETRY_AFTER
                .as_millis()
                .to_string();
            if let Ok(value) = ms.parse() {
                status.metadata_mut().insert(RETRY_PUSHBACK_KEY, value);
            }
        }
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_code_and_keeps_the_message() {
        let kinds = [
            ErrorKind::NotFound,
            ErrorKind::InvalidArgument,
            ErrorKind::AlreadyExists,
            ErrorKind::Unavailable,
            ErrorKind::FailedPrecondition,
            ErrorKind::Internal,
            ErrorKind::ResourceExhausted,
        ];
        let mut codes: Vec<i32> = kinds.iter().map(|k| code_of(*k) as i32).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), kinds.len());
        let status = Status::from(RealClockError::new(ErrorKind::NotFound, "no device \"x\""));
        assert_eq!(status.code(), Code::NotFound);
        assert_eq!(status.message(), "no device \"x\"");
        let busy = Status::from(RealClockError::new(ErrorKind::ResourceExhausted, "busy"));
        assert_eq!(busy.metadata().get(RETRY_PUSHBACK_KEY).unwrap(), "100");
    }
}
