//! The HTTP accept loop: our own instead of `axum::serve`, because a node facing the internet
//! needs what that one lacks: a deadline for a request's head (a client that connects and sends
//! nothing, idles between keep-alive requests, or stalls mid-header is closed), caps on open
//! connections per client address and in total (each one is a file descriptor), a listener
//! that a successor process can bind beside (SO_REUSEPORT, see `handover.rs`), and a shutdown
//! that ends within a bounded time whatever clients do. With `--tls-cert` the same loop serves
//! TLS (see `tls.rs`): the caps count a connection before its handshake, and the handshake
//! must end within the header timeout.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// Limits of the accept loop; see the `serve` flags for their meaning.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub header_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    pub drain_timeout: Duration,
}

/// Answer to a connection over a cap; it is closed right after.
const OVER_CAPACITY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
connection: close\r\ncontent-length: 93\r\n\r\n\
{\"error\":{\"type\":\"service_unavailable\",\"messages\":[\"Too many connections; try again later\"]}}";
/// How long writing that answer may take before the connection is simply dropped.
const OVER_CAPACITY_WRITE: Duration = Duration::from_secs(1);

/// Binds `addr` with SO_REUSEPORT, so that a successor `oriel serve` can bind the same address
/// while this one runs (the kernel spreads new connections over both until one closes).
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    TcpListener::from_std(socket.into())
}

/// Raises the soft limit on open files to the hard limit: the default soft limit (often 1024)
/// is far below what a node holding thousands of signaling sockets needs.
pub fn raise_open_files_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open files limit"),
        Err(error) => tracing::warn!(%error, "cannot raise the open files limit"),
    }
}

/// Serves `app` on `listener` until `stop` resolves; then stops accepting (the listener is
/// closed at once, so new connections go to a successor if one is bound), calls `on_closed`,
/// lets open connections finish for at most `drain_timeout`, and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    tls: Option<TlsAcceptor>,
    stop: impl std::future::Future<Output = ()>,
    on_closed: impl FnOnce(),
) {
    let counts = Counts::default();
    let (draining_tx, draining) = watch::channel(false);
    let mut connections = JoinSet::new();
    // Refusals are logged at most once a second: a flood must not flood the log too.
    let mut last_refusal_logged: Option<tokio::time::Instant> = None;
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let Some(guard) = counts.admit(peer.ip(), &limits) else {
                        if last_refusal_logged.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
                            last_refusal_logged = Some(tokio::time::Instant::now());
                            tracing::warn!(%peer, open = counts.total(), "connection refused: too many connections");
                        }
                        // A TLS client could not read a plain answer: it is just closed.
                        if tls.is_none() {
                            connections.spawn(refuse(stream));
                        }
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    let stream = Counted { stream, _guard: guard };
                    let (app, draining) = (app.clone(), draining.clone());
                    match &tls {
                        None => {
                            connections.spawn(connection(stream, peer, app, limits, draining));
                        }
                        Some(acceptor) => {
                            let acceptor = acceptor.clone();
                            connections.spawn(async move {
                                // A client that opens and never completes a handshake is
                                // closed like one that never sends a request head.
                                match tokio::time::timeout(limits.header_timeout, acceptor.accept(stream)).await {
                                    // A CA validating an ACME order: the handshake was
                                    // the answer (see acme.rs).
                                    Ok(Ok(stream)) if stream.get_ref().1.alpn_protocol() == Some(crate::acme::CHALLENGE_ALPN) => {
                                        tracing::info!(%peer, "answered an ACME TLS-ALPN-01 validation");
                                    }
                                    Ok(Ok(stream)) => connection(stream, peer, app, limits, draining).await,
                                    Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                                }
                            });
                        }
                    }
                }
                // Out of descriptors or a connection reset before accept: keep serving the
                // others, but do not spin on a persistent error.
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    on_closed();
    let _ = draining_tx.send(true);
    // Upgraded connections (WebSockets) are no longer hyper's; the counted streams they hold
    // tell when they are gone too.
    let drained = tokio::time::timeout(limits.drain_timeout, async {
        while connections.join_next().await.is_some() {}
        counts.wait_empty().await;
    })
    .await;
    if drained.is_err() {
        tracing::info!(
            open = counts.total(),
            "connections still open after the drain deadline; dropping them"
        );
    }
    connections.shutdown().await;
}

async fn connection<S>(
    stream: S,
    peer: SocketAddr,
    app: Router,
    limits: Limits,
    mut draining: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        app.clone().oneshot(request)
    });
    let mut builder = http1::Builder::new();
    // The header read timeout runs from the moment hyper waits for a request head: at
    // connection start, between keep-alive requests, and while a head trickles in.
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let conn = builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
        }
        _ = async { draining.wait_for(|draining| *draining).await.map(|_| ()) } => {
            // Finish the request in flight, then close; the caller's deadline bounds this.
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// Answers 503 and closes, without spending more than a moment on the client.
async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(OVER_CAPACITY_WRITE, async {
        stream.write_all(OVER_CAPACITY).await?;
        stream.shutdown().await
    })
    .await;
}

/// Open connections per client address and in total. A plain mutex: one short critical
/// section per accepted or closed connection, never on a media path.
#[derive(Clone, Default)]
struct Counts {
    inner: Arc<Mutex<CountsInner>>,
    emptied: Arc<tokio::sync::Notify>,
}

#[derive(Default)]
struct CountsInner {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

impl Counts {
    fn admit(&self, ip: IpAddr, limits: &Limits) -> Option<Guard> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let of_ip = inner.per_ip.get(&ip).copied().unwrap_or(0);
        if inner.total >= limits.max_connections || of_ip >= limits.max_connections_per_ip {
            return None;
        }
        inner.total += 1;
        inner.per_ip.insert(ip, of_ip + 1);
        Some(Guard {
            counts: self.clone(),
            ip,
        })
    }

    fn total(&self) -> usize {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).total
    }

    async fn wait_empty(&self) {
        loop {
            let emptied = self.emptied.notified();
            if self.total() == 0 {
                return;
            }
            emptied.await;
        }
    }
}

/// One counted connection; dropping it (with the stream) gives the place back.
struct Guard {
    counts: Counts,
    ip: IpAddr,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let mut inner = self.counts.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.total = inner.total.saturating_sub(1);
        if let Some(n) = inner.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                inner.per_ip.remove(&self.ip);
            }
        }
        if inner.total == 0 {
            self.counts.emptied.notify_waiters();
        }
    }
}

/// A TCP stream that holds its place in [`Counts`] for as long as it lives, through an HTTP
/// upgrade too: a WebSocket costs a descriptor like any other connection.
struct Counted {
    stream: TcpStream,
    _guard: Guard,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(total: usize, per_ip: usize) -> Limits {
        Limits {
            header_timeout: Duration::from_secs(1),
            max_connections: total,
            max_connections_per_ip: per_ip,
            drain_timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn caps_per_address_and_in_total_and_gives_places_back() {
        let counts = Counts::default();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let l = limits(3, 2);
        let a1 = counts.admit(a, &l).unwrap();
        let _a2 = counts.admit(a, &l).unwrap();
        assert!(counts.admit(a, &l).is_none(), "per address");
        let _b1 = counts.admit(b, &l).unwrap();
        assert!(counts.admit(b, &l).is_none(), "in total");
        drop(a1);
        assert_eq!(counts.total(), 2);
        assert!(counts.admit(b, &l).is_some());
    }

    #[test]
    fn the_refusal_announces_its_body_length_exactly() {
        let text = std::str::from_utf8(OVER_CAPACITY).unwrap();
        let (_, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(text.contains(&format!("content-length: {}\r\n", body.len())));
    }
}
