//! The few REST calls a load test needs: signing keys and spaces, over HTTP Basic.
//!
//! One short HTTP/1.1 connection per call (hyper's client connection API): the load test makes
//! four calls in all, so pooling would buy nothing.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpStream;

/// Longest any one API call may take (creating a signing key generates an RSA key).
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A signing key as created: its id and the RSA private key (PKCS#1 PEM) to sign tokens with.
pub struct SigningKey {
    pub id: String,
    pub private_key_pem: String,
}

pub struct Api {
    addr: SocketAddr,
    authority: String,
    prefix: String,
    authorization: String,
}

impl Api {
    /// `url` is the node's base URL, e.g. `http://127.0.0.1:8080`. Only loopback hosts are
    /// accepted: a load test sends traffic to this machine only.
    pub async fn new(url: &str, token_id: &str, token_secret: &str) -> anyhow::Result<Self> {
        let uri: Uri = url
            .parse()
            .with_context(|| format!("--api {url:?} is not a URL"))?;
        if uri.scheme_str() != Some("http") {
            bail!("--api must be an http:// URL (got {url:?})");
        }
        let host = uri
            .host()
            .ok_or_else(|| anyhow!("--api {url:?} has no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(80);
        let addr = resolve_loopback(&host, port).await?;
        let authority = uri
            .authority()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_else(|| host.clone());
        let prefix = uri.path().trim_end_matches('/').to_owned();
        let credentials =
            base64::engine::general_purpose::STANDARD.encode(format!("{token_id}:{token_secret}"));
        Ok(Self {
            addr,
            authority,
            prefix,
            authorization: format!("Basic {credentials}"),
        })
    }

    /// The signaling base URL the SDK would be given (`MUX_SPACES_BACKEND_URL`).
    pub fn pluto_url(&self) -> String {
        format!("ws://{}{}/pluto", self.authority, self.prefix)
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        tokio::time::timeout(CALL_TIMEOUT, self.call_once(method.clone(), path, body))
            .await
            .map_err(|_| anyhow!("{method} {path} took longer than {CALL_TIMEOUT:?}"))?
    }

    async fn call_once(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let stream = TcpStream::connect(self.addr)
            .await
            .with_context(|| format!("cannot connect to the API at {}", self.addr))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let request = Request::builder()
            .method(method.clone())
            .uri(format!("{}{path}", self.prefix))
            .header("host", &self.authority)
            .header("authorization", &self.authorization)
            .header("content-type", "application/json")
            .header("user-agent", "oriel-load-test")
            .body(Full::new(Bytes::from(body)))?;
        let response = sender
            .send_request(request)
            .await
            .with_context(|| format!("{method} {path} failed"))?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Ok((status, value))
    }

    fn expect_created(what: &str, status: StatusCode, value: &Value) -> anyhow::Result<()> {
        if status != StatusCode::CREATED && status != StatusCode::OK {
            bail!("creating a {what} failed: HTTP {status}: {value}");
        }
        Ok(())
    }

    pub async fn create_signing_key(&self) -> anyhow::Result<SigningKey> {
        let (status, value) = self
            .call(Method::POST, "/system/v1/signing-keys", Some(json!({})))
            .await?;
        Self::expect_created("signing key", status, &value)?;
        let data = &value["data"];
        let id = data["id"]
            .as_str()
            .ok_or_else(|| anyhow!("the signing key has no id: {value}"))?
            .to_owned();
        let encoded = data["private_key"]
            .as_str()
            .ok_or_else(|| anyhow!("the signing key has no private_key"))?;
        let pem = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .context("the signing key's private_key is not base64")?;
        Ok(SigningKey {
            id,
            private_key_pem: String::from_utf8(pem)
                .context("the signing key's private_key is not a PEM")?,
        })
    }

    pub async fn delete_signing_key(&self, id: &str) -> anyhow::Result<()> {
        let (status, value) = self
            .call(
                Method::DELETE,
                &format!("/system/v1/signing-keys/{id}"),
                None,
            )
            .await?;
        if !status.is_success() && status != StatusCode::NOT_FOUND {
            bail!("deleting signing key {id} failed: HTTP {status}: {value}");
        }
        Ok(())
    }

    pub async fn create_space(&self) -> anyhow::Result<String> {
        let (status, value) = self
            .call(
                Method::POST,
                "/video/v1/spaces",
                Some(json!({ "passthrough": "oriel load-test" })),
            )
            .await?;
        Self::expect_created("space", status, &value)?;
        value["data"]["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("the space has no id: {value}"))
    }

    /// Deletes a space, retrying while the server still counts participants in it (they
    /// leave asynchronously), for at most `patience`.
    pub async fn delete_space(&self, id: &str, patience: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let (status, value) = self
                .call(Method::DELETE, &format!("/video/v1/spaces/{id}"), None)
                .await?;
            if status.is_success() || status == StatusCode::NOT_FOUND {
                return Ok(());
            }
            let retryable = status.is_client_error() && status != StatusCode::UNAUTHORIZED;
            if !retryable || tokio::time::Instant::now() >= deadline {
                bail!("deleting space {id} failed: HTTP {status}: {value}");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// The first address of `host`, which must be a loopback address.
async fn resolve_loopback(host: &str, port: u16) -> anyhow::Result<SocketAddr> {
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .with_context(|| format!("cannot resolve {host}"))?
            .collect(),
    };
    let addr = addrs
        .first()
        .copied()
        .ok_or_else(|| anyhow!("{host} resolves to nothing"))?;
    if !addrs.iter().all(|a| a.ip().is_loopback()) {
        bail!("the load test only targets this machine: {host} is not a loopback address");
    }
    Ok(addr)
}
