use axum::extract::{FromRequestParts, RawQuery};
use axum::http::request::Parts;
use oriel_store::Page;

use crate::error::ApiError;

/// Mux's `limit` (1 to 100, default 25) and 1-based `page` (default 1) query parameters.
pub struct Pagination(pub Page);

impl<S: Send + Sync> FromRequestParts<S> for Pagination {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let RawQuery(query) = RawQuery::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::invalid_parameters("Query string could not be read"))?;
        let mut page = Page::default();
        for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match name.as_ref() {
                "limit" => page.limit = parse_in_range(&name, &value, 1, Page::MAX_LIMIT)?,
                "page" => page.page = parse_in_range(&name, &value, 1, u32::MAX / 1024)?,
                _ => {}
            }
        }
        Ok(Self(page))
    }
}

fn parse_in_range(name: &str, value: &str, min: u32, max: u32) -> Result<u32, ApiError> {
    value
        .parse::<u32>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            ApiError::invalid_parameters(format!(
                "{name} must be an integer from {min} to {max}, got {value:?}"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    async fn parse(uri: &str) -> Result<Page, u16> {
        let (mut parts, ()) = Request::get(uri).body(()).unwrap().into_parts();
        Pagination::from_request_parts(&mut parts, &())
            .await
            .map(|Pagination(page)| page)
            .map_err(|e| e.status().as_u16())
    }

    #[tokio::test]
    async fn defaults_bounds_and_garbage() {
        assert_eq!(parse("/x").await, Ok(Page { limit: 25, page: 1 }));
        assert_eq!(
            parse("/x?limit=100&page=3").await,
            Ok(Page {
                limit: 100,
                page: 3
            })
        );
        for bad in [
            "limit=0",
            "limit=101",
            "limit=abc",
            "page=0",
            "page=-1",
            "limit=%FF",
        ] {
            assert_eq!(parse(&format!("/x?{bad}")).await, Err(400), "{bad}");
        }
        assert_eq!(parse("/x?other=1").await, Ok(Page::default()));
    }
}
