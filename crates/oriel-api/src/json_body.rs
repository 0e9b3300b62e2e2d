use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// Largest request body the API accepts; every body it takes is a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A request body that must be a JSON object (an empty body counts as `{}`), parsed whatever
/// the Content-Type says, as Mux did. Rejections come out in the API's error envelope.
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::payload_too_large(MAX_BODY_BYTES)
                } else {
                    ApiError::invalid_parameters(format!(
                        "Could not read the request body: {rejection}"
                    ))
                }
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(Map::new()));
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(object)) => Ok(Self(object)),
            Ok(_) => Err(ApiError::invalid_parameters(
                "Request body must be a JSON object",
            )),
            Err(error) => Err(ApiError::invalid_parameters(format!(
                "Request body is not valid JSON: {error}"
            ))),
        }
    }
}

impl JsonObject {
    /// An optional string field of at most `max_chars` characters.
    pub fn optional_string(&self, field: &str, max_chars: usize) -> Result<Option<&str>, ApiError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) if text.chars().count() <= max_chars => Ok(Some(text)),
            Some(Value::String(_)) => Err(ApiError::invalid_parameters(format!(
                "{field} must be at most {max_chars} characters"
            ))),
            Some(_) => Err(ApiError::invalid_parameters(format!(
                "{field} must be a string"
            ))),
        }
    }

    /// An optional field restricted to the given values.
    pub fn optional_enum(&self, field: &str, allowed: &[&str]) -> Result<Option<&str>, ApiError> {
        let value = self.optional_string(field, 255)?;
        match value {
            Some(v) if !allowed.contains(&v) => Err(ApiError::invalid_parameters(format!(
                "{field} must be one of: {}",
                allowed.join(", ")
            ))),
            _ => Ok(value),
        }
    }

    /// An optional number from `min` to `max`.
    pub fn optional_number(
        &self,
        field: &str,
        min: f64,
        max: f64,
    ) -> Result<Option<f64>, ApiError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => match n.as_f64() {
                Some(v) if (min..=max).contains(&v) => Ok(Some(v)),
                _ => Err(ApiError::invalid_parameters(format!(
                    "{field} must be from {min} to {max}"
                ))),
            },
            Some(_) => Err(ApiError::invalid_parameters(format!(
                "{field} must be a number"
            ))),
        }
    }

    /// An optional boolean field.
    pub fn optional_bool(&self, field: &str) -> Result<Option<bool>, ApiError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::invalid_parameters(format!(
                "{field} must be true or false"
            ))),
        }
    }
}
