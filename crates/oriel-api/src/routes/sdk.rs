//! Oriel's Web SDK as a browser script: `GET /sdk/spaces.js` defines the global `OrielSpaces`,
//! with the same exports as `@mux/spaces-web`'s `MuxSpaces`.
//!
//! The script is built from `sdk/web` with esbuild and committed (`sdk/web/dist/spaces.js`), so
//! that `cargo build` embeds it without node; `tests/sdk/run.sh` fails when the committed file
//! is older than its sources.

use std::sync::OnceLock;

use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

use crate::state::AppState;

static SPACES_JS: Asset = Asset::new(
    include_str!("../../../../sdk/web/dist/spaces.js"),
    "application/javascript; charset=utf-8",
);

pub fn router() -> Router<AppState> {
    Router::new().route("/sdk/spaces.js", get(spaces_js))
}

async fn spaces_js(headers: HeaderMap) -> Response {
    // Any page may load it, also as a module or with `crossorigin`.
    SPACES_JS.serve(&headers, &[(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")])
}

/// A file compiled into the binary, served with a hash of its content as ETag: browsers
/// revalidate (`no-cache`) and get `304 Not Modified` until a new build changes it.
pub(crate) struct Asset {
    body: &'static str,
    content_type: &'static str,
    etag: OnceLock<HeaderValue>,
}

impl Asset {
    pub(crate) const fn new(body: &'static str, content_type: &'static str) -> Self {
        Self {
            body,
            content_type,
            etag: OnceLock::new(),
        }
    }

    fn etag(&self) -> &HeaderValue {
        self.etag.get_or_init(|| {
            let hash = Sha256::digest(self.body.as_bytes());
            let hex: String = hash.iter().take(12).map(|b| format!("{b:02x}")).collect();
            HeaderValue::from_str(&format!("\"{hex}\""))
                .unwrap_or(HeaderValue::from_static("\"0\""))
        })
    }

    /// The asset, or 304 when `If-None-Match` names its ETag; `extra` headers on both.
    pub(crate) fn serve(
        &self,
        request: &HeaderMap,
        extra: &[(HeaderName, &'static str)],
    ) -> Response {
        let etag = self.etag();
        let tag = etag.to_str().unwrap_or_default();
        let fresh = request
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
        let mut response = if fresh {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            ([(header::CONTENT_TYPE, self.content_type)], self.body).into_response()
        };
        let headers = response.headers_mut();
        headers.insert(header::ETAG, etag.clone());
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        for (name, value) in extra {
            headers.insert(name.clone(), HeaderValue::from_static(value));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_script_defines_the_global() {
        assert!(SPACES_JS.body.contains("var OrielSpaces = (() => {"));
        assert!(SPACES_JS.body.starts_with("// Oriel Spaces Web SDK"));
    }

    #[test]
    fn serves_with_an_etag_and_revalidates_to_304() {
        let asset = Asset::new("console.log(1)", "application/javascript; charset=utf-8");
        let first = asset.serve(
            &HeaderMap::new(),
            &[(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")],
        );
        assert_eq!(first.status(), StatusCode::OK);
        assert_eq!(
            first.headers()[header::CONTENT_TYPE],
            "application/javascript; charset=utf-8"
        );
        assert_eq!(first.headers()[header::CACHE_CONTROL], "no-cache");
        assert_eq!(first.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        let etag = first.headers()[header::ETAG].clone();
        assert!(etag.to_str().unwrap().starts_with('"'));

        let mut conditional = HeaderMap::new();
        conditional.insert(header::IF_NONE_MATCH, etag.clone());
        let second = asset.serve(&conditional, &[]);
        assert_eq!(second.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(second.headers()[header::ETAG], etag);

        conditional.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
        assert_eq!(asset.serve(&conditional, &[]).status(), StatusCode::OK);
    }
}
