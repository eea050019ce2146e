//! The page's HTTP server: the embedded assets, the map, the feed as
//! server-sent events, the drop counter; 404 for anything else.
//!
//! Who may read follows `mcc-emu serve`'s rule ([`crate::serve::auth`]):
//! loopback without a token; any other address only with one, and then
//! every request must carry it, as `authorization: Bearer TOKEN` or (for
//! the page itself and its `EventSource`, which cannot set headers) as
//! `?token=TOKEN`. Compared in constant time.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::task::JoinHandle;
use tokio_stream::StreamExt;

use super::assets;
use super::feed::Feed;
use crate::serve::auth::{self, constant_time_eq};

/// How often an idle event stream sends a comment, so that proxies and
/// the browser keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// What the server serves.
#[derive(Clone)]
struct Served {
    feed: Arc<Feed>,
    token: Option<Arc<[u8]>>,
}

/// The live view's server, running on its own task.
#[derive(Debug)]
pub struct UiServer {
    /// The address it serves on (the port a `:0` request picked).
    pub address: SocketAddr,
    task: JoinHandle<()>,
}

impl UiServer {
    /// Checks the token rule, binds `address` and serves the page, `world`
    /// (the map's JSON) and `feed` until stopped. Prints nothing.
    pub async fn start(
        address: SocketAddr,
        token: Option<&str>,
        world: String,
        feed: Arc<Feed>,
    ) -> anyhow::Result<Self> {
        let (listener, bound) = auth::bind_checked("--ui", address, token).await?;
        // Before anything is served: no page can have had another map.
        feed.set_world(world);
        let served = Served {
            feed,
            token: token.map(|t| Arc::from(t.as_bytes())),
        };
        let app = router(served);
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("mcc-emu: the live view stopped serving: {e}");
            }
        });
        Ok(Self {
            address: bound,
            task,
        })
    }

    /// The page's address, with the token in its query when there is one.
    pub fn url(&self, token: Option<&str>) -> String {
        match token {
            Some(t) => format!("http://{}/?token={}", self.address, percent_encode(t)),
            None => format!("http://{}/", self.address),
        }
    }

    /// Stops serving (open event streams are cut).
    pub fn stop(self) {
        self.task.abort();
    }
}

fn router(served: Served) -> Router {
    let mut app = Router::new();
    for asset in assets::ASSETS {
        app = app.route(
            asset.path,
            get(move |State(served): State<Served>| async move {
                let body = if asset.body.contains(assets::QUERY_SLOT) {
                    // Past the token check: the page may carry the token on.
                    let query = served.token.as_deref().map_or_else(String::new, |t| {
                        format!("?token={}", percent_encode(&String::from_utf8_lossy(t)))
                    });
                    asset.body.replace(assets::QUERY_SLOT, &query)
                } else {
                    asset.body.to_owned()
                };
                ([(header::CONTENT_TYPE, asset.content_type)], body).into_response()
            }),
        );
    }
    app.route("/world.json", get(world))
        .route("/events", get(events))
        .route("/stats.json", get(stats))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            served.token.clone(),
            check_token,
        ))
        .with_state(served)
}

async fn world(State(served): State<Served>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        served.feed.world().to_string(),
    )
        .into_response()
}

async fn stats(State(served): State<Served>) -> Response {
    let body = serde_json::json!({
        "dropped": served.feed.dropped(),
        "published": served.feed.published(),
        "readers": served.feed.readers(),
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn events(State(served): State<Served>) -> impl IntoResponse {
    let stream = served
        .feed
        .subscribe()
        .map(|message| Ok::<_, Infallible>(Event::default().data(&*message)));
    Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "not found: the live view serves /, its assets, /world.json, /events and /stats.json\n",
    )
        .into_response()
}

/// Lets a request through only with the server's token, if it has one
/// (the live view's and the metrics endpoint's rule).
pub(crate) async fn check_token(
    State(token): State<Option<Arc<[u8]>>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(expected) = &token else {
        return next.run(request).await;
    };
    let from_header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
        .map(<[u8]>::to_vec);
    let from_query = request.uri().query().and_then(query_token);
    match from_header.or(from_query) {
        Some(given) if constant_time_eq(&given, expected) => next.run(request).await,
        given => (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            if given.is_some() {
                "wrong token\n"
            } else {
                "this server needs a token: open it with ?token=TOKEN (or send \
                 `authorization: Bearer TOKEN`)\n"
            },
        )
            .into_response(),
    }
}

/// The `token` parameter of a query string, percent-decoded.
fn query_token(query: &str) -> Option<Vec<u8>> {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
        .map(percent_decode)
}

fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_survives_encoding_and_decoding_in_a_query() {
        for token in ["abc", "a+b/c=d%e&f", "~x.y_z-"] {
            let query = format!("x=1&token={}", percent_encode(token));
            assert_eq!(query_token(&query).unwrap(), token.as_bytes(), "{query}");
        }
        assert_eq!(query_token("x=1"), None);
        assert_eq!(percent_decode("%zz%4"), b"%zz%4");
    }
}
