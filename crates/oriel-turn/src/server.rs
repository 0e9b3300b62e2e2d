//! The embedded TURN server: UDP and TCP on one port, TLS on another when the node has a
//! certificate, REST credentials, and relays that reach only this node's media ports.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::{TcpListener, UdpSocket};
use tokio_rustls::TlsAcceptor;
use turn::server::config::{ConnConfig, ServerConfig};
use turn::server::Server;
use webrtc_util::Conn;

use crate::auth::RestAuth;
use crate::credentials::TurnSecret;
use crate::peers::AllowedPeers;
use crate::permission_gate::PermissionGate;
use crate::relay::MediaOnlyRelays;
use crate::stream_conn::StreamConn;

/// The realm clients see in 401 answers (any value works with REST credentials).
pub const REALM: &str = "oriel";
/// A TLS handshake that takes longer is given up.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

pub struct EmbeddedTurnSettings {
    /// The address listened on (the media IP: the node's reachable interface).
    pub listen_ip: IpAddr,
    /// UDP and TCP port.
    pub port: u16,
    /// TURN over TLS (turns:), with the node's certificate.
    pub tls: Option<(u16, TlsAcceptor)>,
    pub secret: TurnSecret,
    pub peers: AllowedPeers,
}

/// A running embedded TURN server; it stops when dropped.
pub struct EmbeddedTurn {
    server: Server,
    pub udp: SocketAddr,
    pub tcp: SocketAddr,
    pub tls: Option<SocketAddr>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl EmbeddedTurn {
    pub async fn start(settings: EmbeddedTurnSettings) -> anyhow::Result<Self> {
        let udp_addr = SocketAddr::new(settings.listen_ip, settings.port);
        let udp = UdpSocket::bind(udp_addr)
            .await
            .with_context(|| format!("cannot bind the TURN port udp/{udp_addr}"))?;
        let udp_local = udp.local_addr()?;
        // TCP on the same port number as UDP (port 0: whatever UDP got).
        let tcp_addr = SocketAddr::new(settings.listen_ip, udp_local.port());
        let tcp = TcpListener::bind(tcp_addr)
            .await
            .with_context(|| format!("cannot bind the TURN port tcp/{tcp_addr}"))?;
        let tcp_local = tcp.local_addr()?;
        let peers = Arc::new(settings.peers);
        let auth = Arc::new(RestAuth {
            secret: settings.secret,
        });
        let gated = |conn: Arc<dyn Conn + Send + Sync>| -> Arc<dyn Conn + Send + Sync> {
            Arc::new(PermissionGate {
                inner: conn,
                peers: peers.clone(),
                auth: auth.clone(),
            })
        };
        let relays = || {
            Box::new(MediaOnlyRelays {
                relay_ip: settings.listen_ip,
                peers: peers.clone(),
            })
        };
        let tcp_conn = StreamConn::new(tcp_local);
        let mut conn_configs = vec![
            ConnConfig {
                conn: gated(Arc::new(udp)),
                relay_addr_generator: relays(),
            },
            ConnConfig {
                conn: gated(tcp_conn.clone()),
                relay_addr_generator: relays(),
            },
        ];
        let mut tasks = vec![tokio::spawn(accept_tcp(tcp, tcp_conn))];
        let mut tls_local = None;
        if let Some((port, acceptor)) = settings.tls {
            let tls_addr = SocketAddr::new(settings.listen_ip, port);
            let listener = TcpListener::bind(tls_addr)
                .await
                .with_context(|| format!("cannot bind the TURN TLS port tcp/{tls_addr}"))?;
            let local = listener.local_addr()?;
            let conn = StreamConn::new(local);
            conn_configs.push(ConnConfig {
                conn: gated(conn.clone()),
                relay_addr_generator: relays(),
            });
            tasks.push(tokio::spawn(accept_tls(listener, acceptor, conn)));
            tls_local = Some(local);
        }
        let server = Server::new(ServerConfig {
            conn_configs,
            realm: REALM.to_owned(),
            auth_handler: auth.clone(),
            channel_bind_timeout: Duration::ZERO,
            alloc_close_notify: None,
        })
        .await
        .context("cannot start the TURN server")?;
        Ok(Self {
            server,
            udp: udp_local,
            tcp: tcp_local,
            tls: tls_local,
            tasks,
        })
    }

    pub async fn stop(self) {
        for task in &self.tasks {
            task.abort();
        }
        let _ = self.server.close().await;
    }
}

async fn accept_tcp(listener: TcpListener, conn: Arc<StreamConn>) {
    loop {
        match listener.accept().await {
            Ok((stream, remote)) => {
                let _ = stream.set_nodelay(true);
                tokio::spawn(conn.clone().serve(stream, remote));
            }
            Err(error) => {
                // Out of file descriptors and the like: wait a little, keep serving.
                tracing::warn!(%error, "TURN TCP accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn accept_tls(listener: TcpListener, acceptor: TlsAcceptor, conn: Arc<StreamConn>) {
    loop {
        match listener.accept().await {
            Ok((stream, remote)) => {
                let _ = stream.set_nodelay(true);
                let acceptor = acceptor.clone();
                let conn = conn.clone();
                tokio::spawn(async move {
                    let handshake =
                        tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await;
                    match handshake {
                        Ok(Ok(stream)) => conn.serve(stream, remote).await,
                        Ok(Err(error)) => {
                            tracing::debug!(%remote, %error, "TURN TLS handshake failed")
                        }
                        Err(_) => tracing::debug!(%remote, "TURN TLS handshake timed out"),
                    }
                });
            }
            Err(error) => {
                tracing::warn!(%error, "TURN TLS accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}
