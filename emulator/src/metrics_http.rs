//! `--metrics-listen ADDR` of `serve` and `run --clock real`: the
//! process's Prometheus metrics ([`mcc_cloudlet::node::metrics::install`])
//! at `GET /metrics`, in the text format.
//!
//! Who may read follows `serve`'s rule ([`crate::serve::auth`]): loopback
//! without a token; any other address only with one, which every scrape
//! must then carry as `authorization: Bearer TOKEN` (Prometheus's
//! `authorization` setting of a scrape job) or `?token=TOKEN`. The HTTP
//! server is the live view's (axum, already in the tree); the figures the
//! edge keeps rather than records are copied in just before each render
//! (`refresh`).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::task::JoinHandle;

use crate::serve::auth;

/// Copies what the edge keeps into the registry before a render.
pub type Refresh = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

#[derive(Clone)]
struct Served {
    handle: PrometheusHandle,
    refresh: Refresh,
}

/// The metrics endpoint, running on its own task.
#[derive(Debug)]
pub struct MetricsServer {
    /// The address it serves on (the port a `:0` request picked).
    pub address: SocketAddr,
    task: JoinHandle<()>,
    upkeep: JoinHandle<()>,
}

/// Installs the process's recorder; call it before the edge starts (its
/// handles are taken then). `flag` names the option in the error.
pub fn install(flag: &str) -> anyhow::Result<PrometheusHandle> {
    mcc_cloudlet::node::metrics::install().map_err(|e| anyhow::anyhow!("{flag}: {e}"))
}

impl MetricsServer {
    /// Checks the token rule, binds `address` and serves `handle`'s
    /// metrics (after `refresh`) until stopped. Prints nothing.
    pub async fn start(
        address: SocketAddr,
        token: Option<&str>,
        handle: PrometheusHandle,
        refresh: Refresh,
    ) -> anyhow::Result<Self> {
        let (listener, bound) = auth::bind_checked("--metrics-listen", address, token).await?;
        let token: Option<Arc<[u8]>> = token.map(|t| Arc::from(t.as_bytes()));
        let upkeep = tokio::spawn(mcc_cloudlet::node::metrics::upkeep(handle.clone()));
        let app = Router::new()
            .route("/metrics", get(render))
            .fallback(not_found)
            .layer(middleware::from_fn_with_state(
                token,
                crate::ui::server::check_token,
            ))
            .with_state(Served { handle, refresh });
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("mcc-emu: the metrics endpoint stopped serving: {e}");
            }
        });
        Ok(Self {
            address: bound,
            task,
            upkeep,
        })
    }

    /// Stops serving.
    pub fn stop(self) {
        self.task.abort();
        self.upkeep.abort();
    }
}

async fn render(State(served): State<Served>) -> Response {
    (served.refresh)().await;
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        served.handle.render(),
    )
        .into_response()
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "not found: the metrics are at /metrics\n",
    )
        .into_response()
}
