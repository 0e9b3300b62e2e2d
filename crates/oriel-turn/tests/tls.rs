//! TURN over TLS (turns:): webrtc-rs's TURN client allocates through a TLS connection to the
//! embedded server and relays to the media port.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use oriel_turn::{AllowedPeers, EmbeddedTurn, EmbeddedTurnSettings, TurnSecret};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::Mutex;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName,
};
use tokio_rustls::rustls::{
    ClientConfig as TlsClientConfig, RootCertStore, ServerConfig as TlsServerConfig,
};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use turn::client::{Client, ClientConfig};
use webrtc_util::Conn;

/// The client end of a TURN-over-TLS connection as the packet connection the client wants.
struct TlsPacketConn {
    reader: Mutex<ReadHalf<TlsStream<TcpStream>>>,
    writer: Mutex<WriteHalf<TlsStream<TcpStream>>>,
    local: SocketAddr,
    server: SocketAddr,
}

#[async_trait]
impl Conn for TlsPacketConn {
    async fn connect(&self, _: SocketAddr) -> webrtc_util::Result<()> {
        Ok(())
    }
    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        Ok(self.recv_from(buf).await?.0)
    }
    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        let mut reader = self.reader.lock().await;
        let mut header = [0u8; 4];
        reader.read_exact(&mut header).await?;
        let length = usize::from(u16::from_be_bytes([header[2], header[3]]));
        let total = if header[0] >> 6 == 0 {
            20 + length
        } else {
            4 + length.div_ceil(4) * 4
        };
        buf[..4].copy_from_slice(&header);
        reader.read_exact(&mut buf[4..total]).await?;
        Ok((total, self.server))
    }
    async fn send(&self, buf: &[u8]) -> webrtc_util::Result<usize> {
        self.writer.lock().await.write_all(buf).await?;
        Ok(buf.len())
    }
    async fn send_to(&self, buf: &[u8], _: SocketAddr) -> webrtc_util::Result<usize> {
        self.send(buf).await
    }
    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        Ok(self.local)
    }
    fn remote_addr(&self) -> Option<SocketAddr> {
        Some(self.server)
    }
    async fn close(&self) -> webrtc_util::Result<()> {
        Ok(())
    }
    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}

#[tokio::test]
async fn a_client_allocates_over_tls_and_relays_to_the_media_port() {
    let _ = tokio_rustls::rustls::crypto::aws_lc_rs::default_provider().install_default();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = CertificateDer::from(certified.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let server_tls = TlsServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();

    let media = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let media_addr = media.local_addr().unwrap();
    let turn = EmbeddedTurn::start(EmbeddedTurnSettings {
        listen_ip: "127.0.0.1".parse().unwrap(),
        port: 0,
        tls: Some((0, TlsAcceptor::from(Arc::new(server_tls)))),
        secret: TurnSecret::new("tls-secret"),
        peers: AllowedPeers::new(
            media_addr.ip(),
            None,
            media_addr.port()..media_addr.port() + 1,
        ),
    })
    .await
    .unwrap();
    let tls_addr = turn.tls.expect("a TLS listener");

    let mut roots = RootCertStore::empty();
    roots.add(cert).unwrap();
    let client_tls = TlsClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(tls_addr).await.unwrap();
    let local = tcp.local_addr().unwrap();
    let stream = TlsConnector::from(Arc::new(client_tls))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("the TLS handshake succeeds with the node's certificate");
    let (reader, writer) = tokio::io::split(stream);
    let conn = TlsPacketConn {
        reader: Mutex::new(reader),
        writer: Mutex::new(writer),
        local,
        server: tls_addr,
    };

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let credential = TurnSecret::new("tls-secret").mint("conn-tls", now + 60);
    let client = Client::new(ClientConfig {
        stun_serv_addr: tls_addr.to_string(),
        turn_serv_addr: tls_addr.to_string(),
        username: credential.username,
        password: credential.password,
        realm: String::new(),
        software: String::new(),
        rto_in_ms: 0,
        conn: Arc::new(conn),
        vnet: None,
    })
    .await
    .unwrap();
    client.listen().await.unwrap();
    let relay = tokio::time::timeout(Duration::from_secs(5), client.allocate())
        .await
        .expect("allocation answered")
        .expect("allocation over TLS succeeds");
    relay.send_to(b"over tls", media_addr).await.unwrap();
    let mut buf = [0u8; 100];
    let (n, from) = tokio::time::timeout(Duration::from_secs(5), media.recv_from(&mut buf))
        .await
        .expect("relayed")
        .unwrap();
    assert_eq!(&buf[..n], b"over tls");
    assert_eq!(from, relay.local_addr().unwrap());
    client.close().await.unwrap();
    turn.stop().await;
}
