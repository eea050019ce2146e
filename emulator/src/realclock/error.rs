//! What can go wrong on the real clock, with a kind a gRPC front end maps
//! one-to-one onto a status code.

/// The kind of a [`RealClockError`]; each maps onto one gRPC code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// An unknown device, VM or cloudlet (`NOT_FOUND`).
    NotFound,
    /// A bad argument: a position out of range, an empty id (`INVALID_ARGUMENT`).
    InvalidArgument,
    /// A device id registered twice (`ALREADY_EXISTS`).
    AlreadyExists,
    /// A cloudlet node cannot be reached or failed (`UNAVAILABLE`).
    Unavailable,
    /// The edge cannot do it in its current state: no room for a VM, the
    /// edge is shutting down (`FAILED_PRECONDITION`).
    FailedPrecondition,
    /// Something inside the edge failed (`INTERNAL`).
    Internal,
    /// Too many requests in flight: retry later (`RESOURCE_EXHAUSTED`,
    /// see [`super::admission`]).
    ResourceExhausted,
}

/// An error of the real-clock edge: its kind and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RealClockError {
    /// Which gRPC code it stands for.
    pub kind: ErrorKind,
    /// What was wrong, for a person.
    pub message: String,
}

impl RealClockError {
    /// An error of `kind` saying `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub(super) fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub(super) fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    pub(super) fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }

    pub(super) fn precondition(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::FailedPrecondition, message)
    }

    pub(super) fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
}
