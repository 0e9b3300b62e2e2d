//! Janus's API over its WebSocket transport (subprotocol `janus-protocol`): one socket, one
//! Janus session and one plugin handle per client, as `janus.js` in a browser tab does.
//!
//! Requests carry a `transaction`; Janus answers `success`/`error` for core requests, and
//! `ack` then an asynchronous `event` (same transaction) for plugin messages. Everything else
//! (`webrtcup`, `media`, `hangup`, `slowlink`, ...) arrives unsolicited.

use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

pub const VIDEOROOM: &str = "janus.plugin.videoroom";
/// Read buffer of the socket: the peer's loop polls it on every wake-up and tungstenite
/// zero-fills this much on each read attempt (128 KiB by default), as `oriel-client`.
const READ_BUFFER: usize = 512;

pub struct JanusWs {
    ws: WebSocketStream<TcpStream>,
    next_transaction: u64,
    pub session_id: u64,
    pub handle_id: u64,
}

/// What a frame from Janus is.
pub enum Frame {
    Message(Value),
    Closed,
}

impl JanusWs {
    /// Opens the socket (loopback only).
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let mut request = url.into_client_request().context("bad Janus URL")?;
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static("janus-protocol"),
        );
        let uri = request.uri().clone();
        let host = uri.host().ok_or_else(|| anyhow!("no host in {url}"))?;
        let port = uri.port_u16().unwrap_or(80);
        let tcp = TcpStream::connect((host, port))
            .await
            .with_context(|| format!("cannot connect to Janus at {host}:{port}"))?;
        let _ = tcp.set_nodelay(true);
        let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER);
        let (ws, _) = tokio_tungstenite::client_async_with_config(request, tcp, Some(config))
            .await
            .context("WebSocket handshake with Janus failed")?;
        Ok(Self {
            ws,
            next_transaction: 1,
            session_id: 0,
            handle_id: 0,
        })
    }

    /// Sends a request, filling in `transaction`, `session_id` and `handle_id` where known;
    /// returns the transaction.
    pub async fn send(&mut self, mut message: Value) -> anyhow::Result<String> {
        let transaction = format!("t{}", self.next_transaction);
        self.next_transaction += 1;
        let object = message
            .as_object_mut()
            .ok_or_else(|| anyhow!("a Janus request is a JSON object"))?;
        object.insert("transaction".into(), json!(transaction));
        if self.session_id != 0 && !object.contains_key("session_id") {
            object.insert("session_id".into(), json!(self.session_id));
        }
        let janus = object.get("janus").and_then(Value::as_str).unwrap_or("");
        if self.handle_id != 0
            && matches!(janus, "message" | "trickle" | "detach" | "hangup")
            && !object.contains_key("handle_id")
        {
            object.insert("handle_id".into(), json!(self.handle_id));
        }
        self.ws
            .send(Message::text(message.to_string()))
            .await
            .context("cannot send to Janus")?;
        Ok(transaction)
    }

    /// The next frame (`Closed` when the socket ends).
    pub async fn next(&mut self) -> Frame {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(text))) => match serde_json::from_str(text.as_str()) {
                    Ok(value) => return Frame::Message(value),
                    Err(_) => continue,
                },
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Frame::Closed,
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Sends a request and waits (bounded) for its final answer: `success` for core
    /// requests, the `event` of a plugin message. Unrelated frames meanwhile are dropped.
    pub async fn request(&mut self, message: Value, timeout: Duration) -> anyhow::Result<Value> {
        let transaction = self.send(message).await?;
        let wait = async {
            loop {
                let Frame::Message(reply) = self.next().await else {
                    bail!("Janus closed the socket");
                };
                if reply.get("transaction").and_then(Value::as_str) != Some(transaction.as_str()) {
                    continue;
                }
                match reply.get("janus").and_then(Value::as_str) {
                    Some("ack") => continue,
                    Some("error") => bail!("Janus refused: {}", reply["error"]),
                    Some("success") | Some("event") => {
                        if let Some(error) = plugin_data(&reply).and_then(|d| d.get("error")) {
                            bail!("VideoRoom refused: {error}");
                        }
                        return Ok(reply);
                    }
                    _ => continue,
                }
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .map_err(|_| anyhow!("no answer from Janus within {timeout:?}"))?
    }

    /// `create` then `attach` to the VideoRoom plugin.
    pub async fn open_handle(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let created = self.request(json!({"janus": "create"}), timeout).await?;
        self.session_id = created["data"]["id"]
            .as_u64()
            .ok_or_else(|| anyhow!("no session id in {created}"))?;
        let attached = self
            .request(json!({"janus": "attach", "plugin": VIDEOROOM}), timeout)
            .await?;
        self.handle_id = attached["data"]["id"]
            .as_u64()
            .ok_or_else(|| anyhow!("no handle id in {attached}"))?;
        Ok(())
    }

    /// A plugin message with an optional JSEP; waits for the plugin's event.
    pub async fn message(
        &mut self,
        body: Value,
        jsep: Option<Value>,
        timeout: Duration,
    ) -> anyhow::Result<Value> {
        let mut message = json!({"janus": "message", "body": body});
        if let Some(jsep) = jsep {
            message["jsep"] = jsep;
        }
        self.request(message, timeout).await
    }

    pub async fn keepalive(&mut self) -> anyhow::Result<()> {
        self.send(json!({"janus": "keepalive"})).await.map(|_| ())
    }

    /// Destroys the session (Janus hangs up its handle) and closes the socket, bounded.
    pub async fn close(mut self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, async {
            if self.session_id != 0 {
                let _ = self.send(json!({"janus": "destroy"})).await;
            }
            let _ = self.ws.close(None).await;
        })
        .await;
    }
}

/// `plugindata.data` of an event.
pub fn plugin_data(reply: &Value) -> Option<&Value> {
    reply.get("plugindata").and_then(|p| p.get("data"))
}

/// The SDP of an event's JSEP, with its type.
pub fn jsep_sdp(reply: &Value) -> Option<(&str, &str)> {
    let jsep = reply.get("jsep")?;
    Some((jsep.get("type")?.as_str()?, jsep.get("sdp")?.as_str()?))
}
