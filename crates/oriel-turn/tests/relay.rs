//! The embedded TURN server on 127.0.0.1, driven by webrtc-rs's own TURN client: REST
//! credentials allocate, bad or expired ones do not, and relays reach the node's media ports
//! only.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use oriel_turn::{AllowedPeers, EmbeddedTurn, EmbeddedTurnSettings, TurnSecret};
use tokio::net::UdpSocket;
use turn::client::{Client, ClientConfig};
use webrtc_util::Conn;

const SECRET: &str = "test-secret";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A TURN server whose "media port" is `media`'s port.
async fn server(media: SocketAddr) -> EmbeddedTurn {
    EmbeddedTurn::start(EmbeddedTurnSettings {
        listen_ip: "127.0.0.1".parse().unwrap(),
        port: 0,
        tls: None,
        secret: TurnSecret::new(SECRET),
        peers: AllowedPeers::new(media.ip(), None, media.port()..media.port() + 1),
    })
    .await
    .unwrap()
}

async fn client(turn: &EmbeddedTurn, username: String, password: String) -> Client {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let client = Client::new(ClientConfig {
        stun_serv_addr: turn.udp.to_string(),
        turn_serv_addr: turn.udp.to_string(),
        username,
        password,
        realm: String::new(),
        software: String::new(),
        rto_in_ms: 0,
        conn: Arc::new(socket),
        vnet: None,
    })
    .await
    .unwrap();
    client.listen().await.unwrap();
    client
}

async fn receives(socket: &UdpSocket, within: Duration) -> Option<(Vec<u8>, SocketAddr)> {
    let mut buf = [0u8; 1500];
    let (n, from) = tokio::time::timeout(within, socket.recv_from(&mut buf))
        .await
        .ok()?
        .ok()?;
    Some((buf[..n].to_vec(), from))
}

#[tokio::test]
async fn valid_credentials_allocate_and_relay_both_ways_to_the_media_port() {
    let media = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let turn = server(media.local_addr().unwrap()).await;
    let credential = TurnSecret::new(SECRET).mint("conn-1", now() + 60);
    let client = client(&turn, credential.username, credential.password).await;
    let relay = tokio::time::timeout(Duration::from_secs(5), client.allocate())
        .await
        .expect("allocation answered")
        .expect("allocation succeeds");
    let relayed = relay.local_addr().unwrap();
    assert_eq!(
        relayed.ip().to_string(),
        "127.0.0.1",
        "relayed on the media IP"
    );

    // Send indications: the first send makes the permission, then the data goes.
    relay
        .send_to(b"to the sfu", media.local_addr().unwrap())
        .await
        .unwrap();
    let (data, from) = receives(&media, Duration::from_secs(5))
        .await
        .expect("the media port gets the relayed datagram");
    assert_eq!(data, b"to the sfu");
    assert_eq!(from, relayed, "it comes from the relayed address");

    // And back: the SFU answers the relayed address, the client hears it from the SFU.
    media.send_to(b"to the browser", relayed).await.unwrap();
    let mut buf = [0u8; 1500];
    let (n, from) = tokio::time::timeout(Duration::from_secs(5), relay.recv_from(&mut buf))
        .await
        .expect("the answer is relayed")
        .unwrap();
    assert_eq!(&buf[..n], b"to the browser");
    assert_eq!(from, media.local_addr().unwrap());
    client.close().await.unwrap();
    turn.stop().await;
}

#[tokio::test]
async fn wrong_expired_and_malformed_credentials_are_refused() {
    let media = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let turn = server(media.local_addr().unwrap()).await;
    let secret = TurnSecret::new(SECRET);
    let good = secret.mint("conn-1", now() + 60);
    let expired = secret.mint("conn-1", now() - 1);
    let other_secret = TurnSecret::new("another").mint("conn-1", now() + 60);
    for (what, username, password) in [
        ("wrong HMAC", good.username.clone(), other_secret.password),
        ("expired", expired.username, expired.password),
        ("not EXPIRY:ID", "conn-1".to_owned(), good.password.clone()),
    ] {
        let client = client(&turn, username, password).await;
        let result = tokio::time::timeout(Duration::from_secs(10), client.allocate())
            .await
            .expect("allocation answered");
        assert!(result.is_err(), "{what}: allocation must fail");
        client.close().await.unwrap();
    }
    turn.stop().await;
}

#[tokio::test]
async fn relaying_to_anything_but_the_media_ports_is_refused() {
    let media = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // Stand-ins for what an open relay would expose: another service on the node's own IP,
    // and another loopback address.
    let other_port = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let other_host = UdpSocket::bind("127.0.0.2:0").await.unwrap();
    let turn = server(media.local_addr().unwrap()).await;
    let credential = TurnSecret::new(SECRET).mint("conn-1", now() + 60);
    let client = client(&turn, credential.username, credential.password).await;
    let relay = client.allocate().await.unwrap();
    let relayed = relay.local_addr().unwrap();

    for target in [&other_port, &other_host] {
        // The permission is refused (403), so the client cannot even send.
        let sent = relay.send_to(b"probe", target.local_addr().unwrap()).await;
        assert!(
            sent.is_err(),
            "the permission for {target:?} must be refused: {sent:?}"
        );
        assert_eq!(
            receives(target, Duration::from_millis(700)).await,
            None,
            "nothing may reach {}",
            target.local_addr().unwrap()
        );
    }
    // Nor does anything but the media port get in through the relayed address.
    other_port.send_to(b"spoof", relayed).await.unwrap();
    let mut buf = [0u8; 1500];
    assert!(
        tokio::time::timeout(Duration::from_millis(700), relay.recv_from(&mut buf))
            .await
            .is_err(),
        "a datagram from another port must not be relayed to the client"
    );
    // The media port still works on the same allocation.
    relay
        .send_to(b"ok", media.local_addr().unwrap())
        .await
        .unwrap();
    assert_eq!(
        receives(&media, Duration::from_secs(5))
            .await
            .map(|(d, _)| d),
        Some(b"ok".to_vec())
    );
    client.close().await.unwrap();
    turn.stop().await;
}
