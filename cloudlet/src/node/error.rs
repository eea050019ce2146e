//! Why a node refuses a call, with the gRPC status it becomes.

/// A refused call: a gRPC status code and a message a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct NodeError {
    /// The gRPC status code.
    pub code: tonic::Code,
    /// What was wrong.
    pub message: String,
}

impl NodeError {
    /// `INVALID_ARGUMENT`: the message itself is malformed.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            code: tonic::Code::InvalidArgument,
            message: message.into(),
        }
    }

    /// `NOT_FOUND`: no such VM or migration here.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            code: tonic::Code::NotFound,
            message: message.into(),
        }
    }

    /// `FAILED_PRECONDITION`: the call does not fit the current state.
    pub fn precondition(message: impl Into<String>) -> Self {
        Self {
            code: tonic::Code::FailedPrecondition,
            message: message.into(),
        }
    }
}

impl From<NodeError> for tonic::Status {
    fn from(error: NodeError) -> Self {
        tonic::Status::new(error.code, error.message)
    }
}
