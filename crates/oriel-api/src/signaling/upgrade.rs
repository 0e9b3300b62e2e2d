//! The WebSocket upgrade of `/pluto/v1`, done here rather than by axum's `WebSocketUpgrade`
//! because closing a socket well needs the raw stream underneath tungstenite: after an
//! oversized frame tungstenite can parse nothing more, and the rest of that frame must still be
//! read and discarded before the connection closes, or the kernel answers the unread bytes with
//! a reset that destroys our 1009 close frame before the client reads it (see
//! [`discard_until_closed`]).

use std::future::Future;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncReadExt;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;

use crate::error::ApiError;

/// A signaling socket.
pub type Socket = WebSocketStream<TokioIo<Upgraded>>;

/// Most bytes and time spent discarding what a client still sends to a socket we close.
const DISCARD_MAX_BYTES: usize = 16 * 1024 * 1024;
const DISCARD_MAX_TIME: Duration = Duration::from_secs(5);

/// A valid WebSocket upgrade request (HTTP/1.1, RFC 6455 section 4.2.1).
pub struct Upgrade {
    on_upgrade: OnUpgrade,
    accept: HeaderValue,
}

impl<S: Send + Sync> FromRequestParts<S> for Upgrade {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Response> {
        let refuse = |message: &str| {
            ApiError::invalid_parameters(format!("not a WebSocket upgrade: {message}"))
                .into_response()
        };
        if parts.method != Method::GET {
            return Err(ApiError::method_not_allowed().into_response());
        }
        if !header_has_token(&parts.headers, header::CONNECTION, "upgrade") {
            return Err(refuse("Connection must include upgrade"));
        }
        if !header_has_token(&parts.headers, header::UPGRADE, "websocket") {
            return Err(refuse("Upgrade must be websocket"));
        }
        if parts
            .headers
            .get(header::SEC_WEBSOCKET_VERSION)
            .is_none_or(|v| v.as_bytes() != b"13")
        {
            let mut response = refuse("Sec-WebSocket-Version must be 13");
            *response.status_mut() = StatusCode::UPGRADE_REQUIRED;
            response.headers_mut().insert(
                header::SEC_WEBSOCKET_VERSION,
                HeaderValue::from_static("13"),
            );
            return Err(response);
        }
        let Some(key) = parts.headers.get(header::SEC_WEBSOCKET_KEY) else {
            return Err(refuse("Sec-WebSocket-Key is missing"));
        };
        let Ok(accept) = HeaderValue::from_str(&derive_accept_key(key.as_bytes())) else {
            return Err(refuse("bad Sec-WebSocket-Key"));
        };
        let Some(on_upgrade) = parts.extensions.remove::<OnUpgrade>() else {
            return Err(refuse("this connection cannot be upgraded"));
        };
        Ok(Self { on_upgrade, accept })
    }
}

impl Upgrade {
    /// Answers 101 and runs `serve` on the socket once the upgrade completes.
    pub fn on_upgrade<F, Fut>(self, config: WebSocketConfig, serve: F) -> Response
    where
        F: FnOnce(Socket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let on_upgrade = self.on_upgrade;
        tokio::spawn(async move {
            let upgraded = match on_upgrade.await {
                Ok(upgraded) => upgraded,
                Err(error) => {
                    tracing::debug!(%error, "WebSocket upgrade failed");
                    return;
                }
            };
            let socket = WebSocketStream::from_raw_socket(
                TokioIo::new(upgraded),
                Role::Server,
                Some(config),
            )
            .await;
            serve(socket).await;
        });
        switching_protocols(self.accept)
    }
}

impl Upgrade {
    /// Answers 101 and hands the raw upgraded connection to `serve`, which speaks WebSocket
    /// itself or passes the bytes on (a relay to another node).
    pub fn on_upgrade_raw<F, Fut>(self, serve: F) -> Response
    where
        F: FnOnce(TokioIo<Upgraded>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let on_upgrade = self.on_upgrade;
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(upgraded) => serve(TokioIo::new(upgraded)).await,
                Err(error) => tracing::debug!(%error, "WebSocket upgrade failed"),
            }
        });
        switching_protocols(self.accept)
    }
}

fn switching_protocols(accept: HeaderValue) -> Response {
    (
        StatusCode::SWITCHING_PROTOCOLS,
        [
            (header::CONNECTION, HeaderValue::from_static("upgrade")),
            (header::UPGRADE, HeaderValue::from_static("websocket")),
            (header::SEC_WEBSOCKET_ACCEPT, accept),
        ],
    )
        .into_response()
}

/// Reads and drops whatever the client still sends until it closes the connection, for at
/// most [`DISCARD_MAX_BYTES`] and [`DISCARD_MAX_TIME`]. For a socket whose frames tungstenite
/// can no longer parse (an oversized frame's header was read, its payload was not): once the
/// client has read our close frame it finishes its frame, answers with its own close and ends
/// the connection, and nothing unread is left to turn our close into a reset.
pub async fn discard_until_closed(socket: &mut Socket) {
    let stream = socket.get_mut();
    let mut buffer = [0u8; 16 * 1024];
    let mut discarded = 0usize;
    let _ = tokio::time::timeout(DISCARD_MAX_TIME, async {
        while discarded < DISCARD_MAX_BYTES {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => discarded += n,
            }
        }
    })
    .await;
}

/// Whether a comma-separated header holds `token`, case-insensitively.
fn header_has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|value| {
        value
            .to_str()
            .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    })
}
