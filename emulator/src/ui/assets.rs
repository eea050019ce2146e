//! The page's files, compiled into the binary (no CDN, no build step).

/// One file the page is made of.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// Its path on the server.
    pub path: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its text.
    pub body: &'static str,
}

/// What the page's own links to its assets end with, filled in by the
/// server (`?token=TOKEN` when the server has one, else nothing), so that
/// a page opened with a token can load them.
pub const QUERY_SLOT: &str = "__QUERY__";

/// Every asset the server knows; anything else is a 404.
pub const ASSETS: &[Asset] = &[
    Asset {
        path: "/",
        content_type: "text/html; charset=utf-8",
        body: include_str!("assets/index.html"),
    },
    Asset {
        path: "/app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("assets/app.js"),
    },
    Asset {
        path: "/style.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("assets/style.css"),
    },
];
