//! `mcc-emu serve`: the `EmulatorControl` gRPC service (package `mcc.v1`)
//! over the emulated edge on the wall clock.
//!
//! External devices (ours, the `mobile-client` binary; anyone's, generated
//! from `proto/`) register, move, send requests through the emulated
//! network and watch the event stream. The parts:
//! - [`auth`]: loopback by default, a bearer token (checked in constant
//!   time) everywhere else;
//! - [`input`]: the checks every field passes before it reaches the edge,
//!   and the size limits;
//! - [`sandbox`]: the only files a caller may make serve read (inside
//!   `--scenarios DIR`), and what it is told when one does not parse;
//! - [`ControlService`] (`service.rs`): the lifecycle (running, stopped) and
//!   the calls, over the real-clock edge ([`crate::realclock::RealEdge`]);
//! - [`events`]: one subscriber's event stream; [`status`]: edge errors as
//!   gRPC codes; [`wire`]: the area and the summary on the wire.
//!
//! [`serve`] runs the service on a listener: `TCP_NODELAY` on every accepted
//! socket, the token check on every call, messages up to
//! [`input::MAX_MESSAGE_BYTES`]. docs/serve.md is the user's guide.

pub mod auth;
pub mod events;
pub mod input;
pub mod sandbox;
mod service;
pub mod status;
pub mod wire;

pub use service::{ControlService, ServeConfig};

use std::future::Future;

use mcc_proto::v1::emulator_control_server::EmulatorControlServer;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

/// Most HTTP/2 streams one client connection may have open: the edge's
/// global in-flight limit and room for the calls that are not requests.
pub const MAX_STREAMS_PER_CONNECTION: u32 = crate::realclock::admission::MAX_IN_FLIGHT as u32 + 256;

/// Serves `service` on `listener` until `shutdown` completes, then lets the
/// calls in progress finish. With `token`, every call must carry it.
pub async fn serve(
    service: ControlService,
    listener: tokio::net::TcpListener,
    token: Option<&str>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let server = EmulatorControlServer::new(service)
        .max_decoding_message_size(input::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(input::MAX_MESSAGE_BYTES);
    let checked = InterceptedService::new(server, auth::BearerCheck::new(token));
    Server::builder()
        // HTTP/2 bounds what one connection can have open: more than the
        // edge admits at once, so the edge's own refusal (with its retry
        // hint) comes first, and a flood waits at the client.
        .max_concurrent_streams(Some(MAX_STREAMS_PER_CONNECTION))
        .add_service(checked)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}
