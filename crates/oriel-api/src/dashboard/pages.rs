//! The dashboard's pages and assets. Every page is the same app shell (the client routes);
//! it is served only to a signed-in browser, except `/sign-in`. Anonymous visitors are sent
//! to `/sign-in`. The front end is built from `dashboard/` by `dashboard/build.mjs` into the
//! committed `dashboard/dist/`, embedded here so that `cargo build` needs no node;
//! `tests/dashboard/run.sh` fails when the committed build is older than its sources.

use axum::extract::{OriginalUri, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

use super::session;
use crate::routes::Asset;
use crate::state::AppState;

static SHELL_HTML: Asset = Asset::new(
    include_str!("../../../../dashboard/dist/index.html"),
    "text/html; charset=utf-8",
);
static APP_JS: Asset = Asset::new(
    include_str!("../../../../dashboard/dist/app.js"),
    "application/javascript; charset=utf-8",
);
static APP_CSS: Asset = Asset::new(
    include_str!("../../../../dashboard/dist/app.css"),
    "text/css; charset=utf-8",
);

/// Pages a signed-in user may open; each serves the app shell.
pub const PAGES: [&str; 9] = [
    "/",
    "/spaces",
    "/live-streams",
    "/webhooks",
    "/spaces/{space_id}",
    "/signing-keys",
    "/access-tokens",
    "/environments",
    "/environments/{environment_id}",
];

/// The pages load nothing but this server's script and style, and no other site may frame them.
const PAGE_HEADERS: [(HeaderName, &str); 4] = [
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; media-src 'self' blob:; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'",
    ),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "same-origin"),
    (
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    ),
];

pub fn router() -> Router<AppState> {
    let mut router = Router::new()
        .route("/sign-in", get(sign_in_page))
        .route(
            "/dashboard/assets/app.js",
            get(|h: HeaderMap| async move { APP_JS.serve(&h, &[]) }),
        )
        .route(
            "/dashboard/assets/app.css",
            get(|h: HeaderMap| async move { APP_CSS.serve(&h, &[]) }),
        );
    for page in PAGES {
        router = router.route(page, get(app_page));
    }
    router
}

async fn app_page(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    match session::signed_in(&state, &headers).await {
        Ok(Some(_)) => shell(&headers),
        Ok(None) => {
            let next = uri.path_and_query().map_or("/", |p| p.as_str());
            let query: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("next", next)
                .finish();
            Redirect::to(&format!("/sign-in?{query}")).into_response()
        }
        Err(error) => error.into_response(),
    }
}

async fn sign_in_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match session::signed_in(&state, &headers).await {
        Ok(Some(_)) => Redirect::to("/spaces").into_response(),
        _ => shell(&headers),
    }
}

fn shell(headers: &HeaderMap) -> Response {
    let mut response = SHELL_HTML.serve(headers, &PAGE_HEADERS);
    if response.status() == StatusCode::OK {
        // Whether a page is served depends on the session: never from a shared cache.
        response
            .headers_mut()
            .insert(header::VARY, HeaderValue::from_static("Cookie"));
    }
    response
}
