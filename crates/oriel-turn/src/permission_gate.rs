//! Refuses, with 403 Forbidden, a CreatePermission or ChannelBind request that names a peer
//! outside the node's media ports, before the TURN server sees it: the client learns at once
//! that the peer is off limits (the relay socket would drop its data anyway, see `relay.rs`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use async_trait::async_trait;
use stun::attributes::{ATTR_REALM, ATTR_USERNAME, ATTR_XOR_PEER_ADDRESS};
use stun::error_code::{ErrorCodeAttribute, CODE_FORBIDDEN};
use stun::fingerprint::FINGERPRINT;
use stun::integrity::MessageIntegrity;
use stun::message::{
    Message, MessageType, Setter, CLASS_ERROR_RESPONSE, CLASS_REQUEST, MAGIC_COOKIE,
    METHOD_CHANNEL_BIND, METHOD_CREATE_PERMISSION,
};
use stun::textattrs::TextAttribute;
use turn::auth::AuthHandler;
use webrtc_util::Conn;

use crate::auth::RestAuth;
use crate::peers::AllowedPeers;

/// The client-facing connection of the TURN server, with the gate in front of it.
pub(crate) struct PermissionGate {
    pub inner: Arc<dyn Conn + Send + Sync>,
    pub peers: Arc<AllowedPeers>,
    pub auth: Arc<RestAuth>,
}

impl PermissionGate {
    /// A 403 answer to `packet` when it asks for a peer we do not relay to; `None` otherwise
    /// (including requests that fail authentication: the server answers those itself).
    fn refusal(&self, packet: &[u8], source: SocketAddr) -> Option<Vec<u8>> {
        // Cheap test first: only these two request types carry peers.
        if packet.len() < 20 || packet[0] >> 6 != 0 {
            return None;
        }
        let mut request = Message::new();
        request.raw = packet.to_vec();
        request.decode().ok()?;
        let asks_for_peer = request.typ.class == CLASS_REQUEST
            && (request.typ.method == METHOD_CREATE_PERMISSION
                || request.typ.method == METHOD_CHANNEL_BIND);
        if !asks_for_peer {
            return None;
        }
        let transaction = request.transaction_id.0;
        let forbidden = request
            .attributes
            .0
            .iter()
            .filter(|a| a.typ == ATTR_XOR_PEER_ADDRESS)
            .any(|a| match xor_peer_address(&a.value, &transaction) {
                Some(peer) => !self.peers.allows(peer),
                None => false,
            });
        if !forbidden {
            return None;
        }
        let username = TextAttribute::get_from_as(&request, ATTR_USERNAME).ok()?;
        let realm = TextAttribute::get_from_as(&request, ATTR_REALM).ok()?;
        let key = self
            .auth
            .auth_handle(&username.text, &realm.text, source)
            .ok()?;
        tracing::debug!(%source, "TURN peer refused: not one of this node's media addresses");
        let mut answer = Message::new();
        let setters: Vec<Box<dyn Setter>> = vec![
            Box::new(request.transaction_id),
            Box::new(MessageType::new(request.typ.method, CLASS_ERROR_RESPONSE)),
            Box::new(ErrorCodeAttribute {
                code: CODE_FORBIDDEN,
                reason: b"Forbidden: this server relays only to its own media ports".to_vec(),
            }),
            Box::new(MessageIntegrity(key)),
            Box::new(FINGERPRINT),
        ];
        answer.build(&setters).ok()?;
        Some(answer.raw)
    }
}

/// Decodes an XOR-PEER-ADDRESS value (RFC 8489 14.2): family, port and address, XORed with
/// the magic cookie (and for IPv6 the transaction id).
fn xor_peer_address(value: &[u8], transaction: &[u8; 12]) -> Option<SocketAddr> {
    let cookie = MAGIC_COOKIE.to_be_bytes();
    let port = u16::from_be_bytes([value.get(2)? ^ cookie[0], value.get(3)? ^ cookie[1]]);
    let mut mask = [0u8; 16];
    mask[..4].copy_from_slice(&cookie);
    mask[4..].copy_from_slice(transaction);
    let ip = match value.get(1)? {
        0x01 => {
            let raw = value.get(4..8)?;
            let mut octets = [0u8; 4];
            for (i, octet) in octets.iter_mut().enumerate() {
                *octet = raw[i] ^ mask[i];
            }
            IpAddr::V4(Ipv4Addr::from(octets))
        }
        0x02 => {
            let raw = value.get(4..20)?;
            let mut octets = [0u8; 16];
            for (i, octet) in octets.iter_mut().enumerate() {
                *octet = raw[i] ^ mask[i];
            }
            IpAddr::V6(Ipv6Addr::from(octets))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

#[async_trait]
impl Conn for PermissionGate {
    async fn connect(&self, addr: SocketAddr) -> webrtc_util::Result<()> {
        self.inner.connect(addr).await
    }

    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        Ok(self.recv_from(buf).await?.0)
    }

    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        loop {
            let (n, source) = self.inner.recv_from(buf).await?;
            match self.refusal(&buf[..n], source) {
                Some(answer) => {
                    let _ = self.inner.send_to(&answer, source).await;
                }
                None => return Ok((n, source)),
            }
        }
    }

    async fn send(&self, buf: &[u8]) -> webrtc_util::Result<usize> {
        self.inner.send(buf).await
    }

    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> webrtc_util::Result<usize> {
        self.inner.send_to(buf, target).await
    }

    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        self.inner.remote_addr()
    }

    async fn close(&self) -> webrtc_util::Result<()> {
        self.inner.close().await
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}
