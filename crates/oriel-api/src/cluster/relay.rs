//! A signaling WebSocket that reaches a node not holding its space is relayed to the node that
//! does: a browser's WebSocket follows no redirect, so the node opens the same upgrade on the
//! holder (with the client's own `Sec-WebSocket-Key`, so the holder's handshake answer is the
//! one the client expects), answers the client 101 once the holder did, and from then on
//! copies bytes both ways. Frames, pings and close codes pass through untouched; the holder
//! serves the session, and the ICE candidates it sends point the browser straight at the
//! holder's media ports.

use std::io;
use std::time::Duration;

use axum::http::{header, HeaderMap};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::placement::{self, Route};
use super::registry::NodeRecord;
use super::Cluster;

/// Marks a request relayed by another node of the cluster; its value is the cluster's secret.
pub const RELAY_HEADER: &str = "x-oriel-relay";
/// The client's address, as the relaying node saw it, for the holder's logs.
const FORWARDED_FOR_HEADER: &str = "x-forwarded-for";
/// Longest a node may take to accept the relay's TCP connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest the holder may take to answer the upgrade.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest response head accepted from the holder.
const MAX_RESPONSE_HEAD: usize = 16 * 1024;
/// Nodes a join may try before giving up: the holder found gone, then the next placement.
const MAX_HOLDERS_TRIED: usize = 3;
/// Request headers passed on to the holder besides the upgrade's own.
const PASSED_HEADERS: [header::HeaderName; 4] = [
    header::SEC_WEBSOCKET_KEY,
    header::SEC_WEBSOCKET_VERSION,
    header::ORIGIN,
    header::USER_AGENT,
];

/// Where a join is served.
pub enum Destination {
    /// On this node.
    Here,
    /// On another node, through this connection (its 101 read; `early` holds the bytes that
    /// came after the 101's head, for the client).
    Relayed {
        upstream: TcpStream,
        early: Vec<u8>,
        node_id: String,
    },
    /// Nowhere now: the client is told to reconnect.
    Retry,
}

/// Finds the node that serves a join of `space_id` and, if it is another, opens the relay to
/// it. A holder whose listener refuses (it died or drains) loses the space at once and the
/// join is placed again, so the SDK's first reconnection after a node dies already succeeds.
pub async fn destination(
    cluster: &Cluster,
    space_id: &str,
    relayed: bool,
    path_and_query: &str,
    headers: &HeaderMap,
    client: Option<std::net::IpAddr>,
) -> Destination {
    for _ in 0..MAX_HOLDERS_TRIED {
        let node = match placement::route(cluster, space_id, relayed).await {
            Route::Local => return Destination::Here,
            Route::Moved => return Destination::Retry,
            Route::Remote(node) => node,
        };
        match open(cluster, &node, path_and_query, headers, client).await {
            Ok((upstream, early)) => {
                return Destination::Relayed {
                    upstream,
                    early,
                    node_id: node.id,
                }
            }
            Err(OpenError::Unreachable(error)) => {
                tracing::warn!(%error, node_id = %node.id, url = %node.url, %space_id, "the node holding the space cannot be reached; placing the space again");
                if let Err(error) = placement::holder_unreachable(cluster, space_id, &node.id).await
                {
                    tracing::warn!(%error, "could not remove the unreachable node's placement");
                    return Destination::Retry;
                }
            }
            Err(OpenError::Refused(reason)) => {
                tracing::warn!(node_id = %node.id, %space_id, %reason, "the node holding the space refused the relayed join");
                return Destination::Retry;
            }
        }
    }
    Destination::Retry
}

#[derive(Debug, thiserror::Error)]
enum OpenError {
    /// Nothing accepts connections at the node's address: it is gone.
    #[error("{0}")]
    Unreachable(io::Error),
    /// The node is there but did not take the WebSocket.
    #[error("{0}")]
    Refused(String),
}

/// Opens the WebSocket upgrade on `node`; returns the connection once it answered 101.
async fn open(
    cluster: &Cluster,
    node: &NodeRecord,
    path_and_query: &str,
    headers: &HeaderMap,
    client: Option<std::net::IpAddr>,
) -> Result<(TcpStream, Vec<u8>), OpenError> {
    let authority = authority_of(&node.url).ok_or_else(|| {
        OpenError::Refused(format!(
            "the node's address {:?} is not http://HOST:PORT",
            node.url
        ))
    })?;
    let mut upstream =
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&authority)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => return Err(OpenError::Unreachable(error)),
            Err(_) => {
                return Err(OpenError::Unreachable(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no connection to {authority} within {CONNECT_TIMEOUT:?}"),
                )))
            }
        };
    let _ = upstream.set_nodelay(true);
    let request = upgrade_request(
        &authority,
        path_and_query,
        headers,
        &cluster.relay_secret,
        client,
    );
    let handshake = async {
        upstream.write_all(request.as_bytes()).await?;
        read_response_head(&mut upstream).await
    };
    let (head, early) = match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(error)) => return Err(OpenError::Refused(format!("the upgrade failed: {error}"))),
        Err(_) => {
            return Err(OpenError::Refused(
                "the upgrade was not answered in time".into(),
            ))
        }
    };
    match status_of(&head) {
        Some(101) => Ok((upstream, early)),
        Some(status) => Err(OpenError::Refused(format!(
            "answered {status} to the upgrade"
        ))),
        None => Err(OpenError::Refused(
            "answered the upgrade with no HTTP status".into(),
        )),
    }
}

/// `HOST:PORT` of an `http://HOST:PORT[/]` URL.
fn authority_of(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    if url.scheme() != "http" {
        return None;
    }
    let host = match url.host()? {
        url::Host::Ipv6(ip) => format!("[{ip}]"),
        host => host.to_string(),
    };
    Some(format!("{host}:{}", url.port_or_known_default()?))
}

fn upgrade_request(
    authority: &str,
    path_and_query: &str,
    headers: &HeaderMap,
    secret: &str,
    client: Option<std::net::IpAddr>,
) -> String {
    let mut request = format!(
        "GET {path_and_query} HTTP/1.1\r\nHost: {authority}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n{RELAY_HEADER}: {secret}\r\n"
    );
    if let Some(client) = client {
        request.push_str(&format!("{FORWARDED_FOR_HEADER}: {client}\r\n"));
    }
    for name in PASSED_HEADERS {
        if let Some(value) = headers.get(&name).and_then(|v| v.to_str().ok()) {
            // A header value cannot hold a line break (hyper refuses one), so none is injected.
            request.push_str(&format!("{}: {value}\r\n", name.as_str()));
        }
    }
    request.push_str("\r\n");
    request
}

/// Reads up to the end of the response head; returns it and whatever came after it.
async fn read_response_head(upstream: &mut TcpStream) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = upstream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the node closed the connection before answering",
            ));
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let early = buffer.split_off(end + 4);
            return Ok((buffer, early));
        }
        if buffer.len() > MAX_RESPONSE_HEAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the node's answer head is too long",
            ));
        }
    }
}

/// The status code of a response head's first line.
fn status_of(head: &[u8]) -> Option<u16> {
    let line = head.split(|&b| b == b'\r').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split(' ');
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    parts.next()?.parse().ok()
}

/// Copies bytes between the client and the holder until either side closes, or this node
/// shuts down (then both connections are dropped, and the SDK reconnects through the
/// balancer to a node that still runs).
pub async fn splice(
    client: TokioIo<Upgraded>,
    mut upstream: TcpStream,
    early: Vec<u8>,
    mut shutting_down: watch::Receiver<bool>,
) {
    let mut client = client;
    if !early.is_empty() && client.write_all(&early).await.is_err() {
        return;
    }
    tokio::select! {
        result = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {
            if let Err(error) = result {
                tracing::debug!(%error, "relayed signaling connection ended");
            }
        }
        _ = shutting_down.wait_for(|down| *down) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_urls_give_an_address_to_connect_to() {
        assert_eq!(
            authority_of("http://127.0.0.1:8080").as_deref(),
            Some("127.0.0.1:8080")
        );
        assert_eq!(
            authority_of("http://10.0.0.2:80/").as_deref(),
            Some("10.0.0.2:80")
        );
        assert_eq!(
            authority_of("http://node-b.internal:9000").as_deref(),
            Some("node-b.internal:9000")
        );
        assert_eq!(
            authority_of("http://[::1]:8080").as_deref(),
            Some("[::1]:8080")
        );
        assert_eq!(
            authority_of("http://10.0.0.2").as_deref(),
            Some("10.0.0.2:80")
        );
        assert_eq!(authority_of("https://10.0.0.2:443"), None);
        assert_eq!(authority_of("not a url"), None);
    }

    #[test]
    fn the_status_is_read_from_the_first_line() {
        assert_eq!(
            status_of(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"),
            Some(101)
        );
        assert_eq!(
            status_of(b"HTTP/1.1 503 Service Unavailable\r\n\r\n"),
            Some(503)
        );
        assert_eq!(status_of(b"SSH-2.0-OpenSSH\r\n\r\n"), None);
        assert_eq!(status_of(b""), None);
    }

    #[test]
    fn the_upgrade_carries_the_clients_key_and_the_relay_mark() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::SEC_WEBSOCKET_KEY,
            "dGhlIHNhbXBsZSBub25jZQ==".parse().unwrap(),
        );
        headers.insert(header::SEC_WEBSOCKET_VERSION, "13".parse().unwrap());
        headers.insert(header::COOKIE, "secret=1".parse().unwrap());
        let request = upgrade_request(
            "10.0.0.2:8080",
            "/pluto/v1?token=T",
            &headers,
            "s3cret",
            Some("192.0.2.7".parse().unwrap()),
        );
        assert!(request.starts_with("GET /pluto/v1?token=T HTTP/1.1\r\nHost: 10.0.0.2:8080\r\n"));
        assert!(request.contains("\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n"));
        assert!(request.contains("\r\nx-oriel-relay: s3cret\r\n"));
        assert!(request.contains("\r\nx-forwarded-for: 192.0.2.7\r\n"));
        assert!(
            !request.contains("cookie"),
            "only the upgrade's headers pass"
        );
        assert!(request.ends_with("\r\n\r\n"));
    }

    #[tokio::test]
    async fn a_response_head_is_split_from_what_follows_it() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            socket
                .write_all(
                    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi",
                )
                .await
                .unwrap();
        });
        let mut stream = TcpStream::connect(address).await.unwrap();
        let (head, early) = read_response_head(&mut stream).await.unwrap();
        assert_eq!(status_of(&head), Some(101));
        assert_eq!(early, b"\x81\x02hi");
        server.await.unwrap();
    }
}
