use axum::extract::Request;
use axum::http::header::CONTENT_LENGTH;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::json_body::MAX_BODY_BYTES;

/// Refuses a body announced as too large before anything reads it, so the client gets the
/// 413 (and no `100 Continue`) instead of a reset connection halfway through its upload.
pub async fn refuse_oversized_bodies(request: Request, next: Next) -> Response {
    let announced = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if announced.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return ApiError::payload_too_large(MAX_BODY_BYTES).into_response();
    }
    next.run(request).await
}
