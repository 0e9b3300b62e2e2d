//! The meeting page, `GET /demo?token=JWT`: a participant grid with names, camera and
//! microphone mute, screen sharing, a chat over custom events, the active speaker highlighted.
//! It runs on the served SDK (`/sdk/spaces.js`). Sources in `sdk/web/demo`; the script is
//! built to the committed `sdk/web/dist/demo.js` (see `sdk.rs`).

use axum::http::{header, HeaderMap, HeaderName};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use super::sdk::Asset;
use crate::state::AppState;

static INDEX_HTML: Asset = Asset::new(
    include_str!("../../../../sdk/web/demo/index.html"),
    "text/html; charset=utf-8",
);
static DEMO_JS: Asset = Asset::new(
    include_str!("../../../../sdk/web/dist/demo.js"),
    "application/javascript; charset=utf-8",
);
static DEMO_CSS: Asset = Asset::new(
    include_str!("../../../../sdk/web/demo/demo.css"),
    "text/css; charset=utf-8",
);

/// The page carries a join token in its address: it must not leak through `Referer`, and the
/// page loads nothing from anywhere but this server.
const PAGE_HEADERS: [(HeaderName, &str); 2] = [
    (header::REFERRER_POLICY, "no-referrer"),
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; connect-src 'self'; img-src 'self' data:; media-src 'self' blob: mediastream:; \
         style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    ),
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/demo", get(page))
        .route("/demo/", get(page))
        .route(
            "/demo/demo.js",
            get(|h: HeaderMap| async move { DEMO_JS.serve(&h, &[]) }),
        )
        .route(
            "/demo/demo.css",
            get(|h: HeaderMap| async move { DEMO_CSS.serve(&h, &[]) }),
        )
}

async fn page(headers: HeaderMap) -> Response {
    INDEX_HTML.serve(&headers, &PAGE_HEADERS)
}
