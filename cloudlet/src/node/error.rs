//! Why a node refuses a call, with the gRPC status it becomes.

/// Metadata key naming the host a VM moved to (see [`NodeError::moved`]).
pub const MOVED_TO_HOST_KEY: &str = "mcc-moved-to-host";
/// Metadata key giving the gRPC address of the host a VM moved to.
pub const MOVED_TO_ADDRESS_KEY: &str = "mcc-moved-to-address";

/// Where a VM went: the host id and (when known) its gRPC address.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Peer {
    /// The host id.
    pub host_id: String,
    /// Its gRPC address (`http://host:port`); empty when not known.
    pub address: String,
}

/// A refused call: a gRPC status code and a message a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct NodeError {
    /// The gRPC status code.
    pub code: tonic::Code,
    /// What was wrong.
    pub message: String,
    /// The VM left this node for this host (a client should redirect).
    pub moved_to: Option<Peer>,
}

impl NodeError {
    /// `INVALID_ARGUMENT`: the message itself is malformed.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(tonic::Code::InvalidArgument, message)
    }

    /// `NOT_FOUND`: no such VM or migration here.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(tonic::Code::NotFound, message)
    }

    /// `FAILED_PRECONDITION`: the call does not fit the current state.
    pub fn precondition(message: impl Into<String>) -> Self {
        Self::new(tonic::Code::FailedPrecondition, message)
    }

    /// `FAILED_PRECONDITION` for a VM that left this node for `peer`: the
    /// status carries the metadata [`MOVED_TO_HOST_KEY`] and
    /// [`MOVED_TO_ADDRESS_KEY`] so a client can redirect.
    pub fn moved(message: impl Into<String>, peer: Peer) -> Self {
        Self {
            moved_to: Some(peer),
            ..Self::precondition(message)
        }
    }

    fn new(code: tonic::Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            moved_to: None,
        }
    }
}

impl From<NodeError> for tonic::Status {
    fn from(error: NodeError) -> Self {
        let mut status = tonic::Status::new(error.code, error.message);
        if let Some(peer) = error.moved_to {
            let metadata = status.metadata_mut();
            // Host ids and addresses that are not ASCII metadata are left out.
            if let Ok(value) = peer.host_id.parse() {
                metadata.insert(MOVED_TO_HOST_KEY, value);
            }
            if let Ok(value) = peer.address.parse()
                && !peer.address.is_empty()
            {
                metadata.insert(MOVED_TO_ADDRESS_KEY, value);
            }
        }
        status
    }
}
