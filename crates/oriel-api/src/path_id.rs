use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;

use crate::error::ApiError;

/// The object id in a route like `/video/v1/spaces/{id}`, with bad ids refused in the API's
/// error envelope rather than axum's plain-text rejection.
pub struct PathId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(id)| Self(id))
            .map_err(|rejection| {
                ApiError::invalid_parameters(format!("Invalid id in path: {rejection}"))
            })
    }
}

/// A parent and a child id, as in `/video/v1/live-streams/{id}/playback-ids/{playback_id}`.
pub struct PathIds(pub String, pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathIds {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map(|Path((parent, child))| Self(parent, child))
            .map_err(|rejection| {
                ApiError::invalid_parameters(format!("Invalid id in path: {rejection}"))
            })
    }
}
