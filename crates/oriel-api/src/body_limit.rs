//! The request body limit, enforced so that the client reads the 413.
//!
//! Answering a body that is too large while the client still sends it, and then closing,
//! leaves unread bytes in our receive buffer; the kernel answers those with a reset, which can
//! destroy the 413 before the client reads it. So a body of unknown length (chunked) is read
//! here up to the limit, and one that goes past it is read to its end and dropped (bounded in
//! bytes and time) before the 413, sent with `Connection: close`.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::header::{CONNECTION, CONTENT_LENGTH, EXPECT, TRANSFER_ENCODING};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use crate::error::ApiError;
use crate::json_body::MAX_BODY_BYTES;

/// Most bytes and time spent reading and dropping a refused body.
const DISCARD_MAX_BYTES: usize = 16 * 1024 * 1024;
const DISCARD_MAX_TIME: Duration = Duration::from_secs(5);

pub async fn refuse_oversized_bodies(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let announced = headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    let too_large = announced.is_some_and(|length| length > MAX_BODY_BYTES as u64);
    if too_large
        && headers
            .get(EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
    {
        // The client waits for our word before sending: refuse before anything is sent (no
        // `100 Continue`), nothing to drain.
        return too_large_response();
    }
    if !too_large && !headers.contains_key(TRANSFER_ENCODING) {
        // No body, or one of an acceptable announced length (hyper holds it to that length).
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    match read_within_limit(body).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(Refused::TooLarge) => too_large_response(),
        Err(Refused::Unreadable(error)) => {
            ApiError::invalid_parameters(format!("Could not read the request body: {error}"))
                .into_response()
        }
    }
}

enum Refused {
    TooLarge,
    Unreadable(axum::Error),
}

/// The body if it fits in [`MAX_BODY_BYTES`]; if not, what is left of it is read and dropped
/// first (at most [`DISCARD_MAX_BYTES`] in all, for at most [`DISCARD_MAX_TIME`]).
async fn read_within_limit(body: Body) -> Result<Bytes, Refused> {
    let mut stream = body.into_data_stream();
    let mut kept = Vec::new();
    let mut total = 0usize;
    // Within the limit the API's request timeout bounds the reading; past it, this deadline.
    let mut discard_deadline = None;
    loop {
        let next = match discard_deadline {
            None => Ok(stream.next().await),
            Some(deadline) => tokio::time::timeout_at(deadline, stream.next()).await,
        };
        let chunk = match next {
            Ok(Some(Ok(chunk))) => chunk,
            Ok(None) => break,
            Ok(Some(Err(error))) if total <= MAX_BODY_BYTES => {
                return Err(Refused::Unreadable(error))
            }
            // Past the limit the answer is 413 whatever else goes wrong.
            Ok(Some(Err(_))) | Err(_) => return Err(Refused::TooLarge),
        };
        total = total.saturating_add(chunk.len());
        if total <= MAX_BODY_BYTES {
            kept.extend_from_slice(&chunk);
        } else {
            kept = Vec::new();
            discard_deadline.get_or_insert_with(|| tokio::time::Instant::now() + DISCARD_MAX_TIME);
            if total > DISCARD_MAX_BYTES {
                return Err(Refused::TooLarge);
            }
        }
    }
    if total > MAX_BODY_BYTES {
        return Err(Refused::TooLarge);
    }
    Ok(Bytes::from(kept))
}

fn too_large_response() -> Response {
    let mut response = ApiError::payload_too_large(MAX_BODY_BYTES).into_response();
    // Whatever is left unread of this request must not be parsed as the next one.
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}
