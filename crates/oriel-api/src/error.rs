use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An API failure in Mux's envelope: `{"error": {"type": ..., "messages": [...]}}`.
///
/// Internal causes are logged here and never shown to the client.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    messages: Vec<String>,
    retry_after_seconds: Option<u64>,
    /// Whether a 401 invites HTTP Basic (`WWW-Authenticate`): the REST API does, the
    /// dashboard's session API must not (browsers would show a password prompt).
    basic_challenge: bool,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            messages: vec![message.into()],
            retry_after_seconds: None,
            basic_challenge: true,
        }
    }

    /// 400: the request is malformed or a parameter is out of range.
    pub fn invalid_parameters(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_parameters", message)
    }

    /// 401: no credentials, or ones that do not match an access token.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized request",
        )
    }

    /// 401 of the dashboard: no valid session cookie. No HTTP Basic challenge.
    pub fn session_required() -> Self {
        let mut error = Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Sign in to the dashboard first",
        );
        error.basic_challenge = false;
        error
    }

    /// 401 of the dashboard's sign-in: wrong email or password. No HTTP Basic challenge.
    pub fn wrong_credentials() -> Self {
        let mut error = Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Email or password is incorrect",
        );
        error.basic_challenge = false;
        error
    }

    /// 401 of a request authenticated by a join token: the token was refused. No HTTP Basic
    /// challenge (a browser would prompt for a password).
    pub fn invalid_join_token(message: impl Into<String>) -> Self {
        let mut error = Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message);
        error.basic_challenge = false;
        error
    }

    /// 403: the request came from another site or lacks the dashboard's CSRF token.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404: the object does not exist in the caller's environment.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// 405: the path exists but not with this method.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_parameters",
            "Method not allowed for this path",
        )
    }

    /// 412: the object is in a state that forbids the request.
    pub fn failed_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PRECONDITION_FAILED, "failed_request", message)
    }

    /// 413: the body is larger than any request of this API needs.
    pub fn payload_too_large(limit_bytes: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_parameters",
            format!("Request body is larger than {limit_bytes} bytes"),
        )
    }

    /// 429: the access token went past its rate limit.
    pub fn too_many_requests(retry_after_seconds: u64) -> Self {
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "Rate limit exceeded; slow down and retry after the time in Retry-After",
        );
        error.retry_after_seconds = Some(retry_after_seconds.max(1));
        error
    }

    /// 503: the node is too busy for this request now (all Argon2 slots taken for long).
    pub fn busy(retry_after_seconds: u64) -> Self {
        let mut error = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "The server is busy; retry after the time in Retry-After",
        );
        error.retry_after_seconds = Some(retry_after_seconds.max(1));
        error
    }

    /// 500: a failure of ours. The cause is logged, the client sees a generic message.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error while serving a request");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Something went wrong on the server; the request was not completed",
        )
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// What the client is told, for a command line to print.
    pub fn message(&self) -> String {
        self.messages.join("; ")
    }
}

impl From<oriel_store::StoreError> for ApiError {
    fn from(error: oriel_store::StoreError) -> Self {
        Self::internal(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "type": self.kind, "messages": self.messages } });
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED && self.basic_challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"Oriel API\""),
            );
        }
        if let Some(seconds) = self.retry_after_seconds {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
