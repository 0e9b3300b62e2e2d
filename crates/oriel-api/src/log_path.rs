//! The request path as logs may show it: never a token.
//!
//! Join tokens are bearer credentials. They travel in `/helios/v1/submit_acr/{JWT}` and in
//! `/pluto/v1?token=...`; the request span logs the path only (never the query), with the
//! rating path's token and any JWT-looking segment elsewhere replaced.

use std::borrow::Cow;

const REDACTED: &str = "[redacted]";
const RATING_PREFIX: &str = "/helios/v1/submit_acr/";

/// `path` with every token in it replaced by `[redacted]`.
pub fn loggable_path(path: &str) -> Cow<'_, str> {
    // Whatever follows is the token, well-formed or not (a truncated token is still secret).
    if let Some(rest) = path.strip_prefix(RATING_PREFIX) {
        if !rest.is_empty() {
            return Cow::Owned(format!("{RATING_PREFIX}{REDACTED}"));
        }
    }
    if !path.split('/').any(looks_like_jwt) {
        return Cow::Borrowed(path);
    }
    Cow::Owned(
        path.split('/')
            .map(|segment| {
                if looks_like_jwt(segment) {
                    REDACTED
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/"),
    )
}

/// A compact JWS/JWE: dot-separated base64url parts whose header starts as `{"` does.
fn looks_like_jwt(segment: &str) -> bool {
    segment.starts_with("eyJ")
        && segment.matches('.').count() >= 2
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'%' | b'='))
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzcGFjZSJ9.c2lnbmF0dXJl";

    #[test]
    fn the_rating_token_is_redacted_whatever_its_shape() {
        assert_eq!(
            loggable_path(&format!("/helios/v1/submit_acr/{JWT}")),
            "/helios/v1/submit_acr/[redacted]"
        );
        assert_eq!(
            loggable_path("/helios/v1/submit_acr/not-even-a-jwt"),
            "/helios/v1/submit_acr/[redacted]"
        );
    }

    #[test]
    fn jwt_looking_segments_elsewhere_are_redacted_and_other_paths_kept() {
        assert_eq!(
            loggable_path(&format!("/video/v1/spaces/{JWT}/x")),
            "/video/v1/spaces/[redacted]/x"
        );
        assert!(matches!(
            loggable_path("/video/v1/spaces/abc.def"),
            Cow::Borrowed("/video/v1/spaces/abc.def")
        ));
        assert_eq!(loggable_path("/pluto/v1"), "/pluto/v1");
    }
}
