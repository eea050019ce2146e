//! The live view (`--ui ADDR` on `serve`, `run` and `replay`): a web page
//! served by the emulator itself that draws the edge as it runs.
//!
//! - [`assets`]: the page (HTML, vanilla JavaScript, CSS), compiled into
//!   the binary: no CDN, no build step, no internet;
//! - [`server`]: the HTTP side (axum, already in the tree through tonic):
//!   the assets, `/world.json` (the map), `/events` (server-sent events),
//!   `/stats.json` (the drop counter); 404 for anything else; `serve`'s
//!   token rule;
//! - [`feed`]: the bounded fan-out to the open pages; a slow or absent page
//!   never holds up the emulator, and what a page loses is counted;
//! - [`messages`]: the JSON the page reads;
//! - [`live`]: a running edge's feed (the events of `StreamEvents`, through
//!   the same conversion, and frames of positions and finished requests);
//! - [`replay`]: a finished run's feed, from its output folder.
//!
//! docs/live-view.md is the user's guide.

pub mod assets;
pub mod feed;
pub mod live;
pub mod messages;
pub mod replay;
pub mod server;

use std::net::SocketAddr;
use std::sync::Arc;

pub use feed::{FEED_CAPACITY, Feed};
pub use server::UiServer;

/// Starts the live view's server on `address` for `world_json` and a new
/// feed, and says where on stderr.
pub async fn open(
    address: SocketAddr,
    token: Option<&str>,
    world_json: String,
) -> anyhow::Result<(UiServer, Arc<Feed>)> {
    let feed = Feed::new(FEED_CAPACITY);
    let server = UiServer::start(address, token, world_json, feed.clone()).await?;
    eprintln!("mcc-emu: live view at {}", server.url(token));
    Ok((server, feed))
}
