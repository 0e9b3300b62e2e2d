//! Relayed addresses: a UDP socket on the media IP per allocation, wrapped so that it sends
//! only to the node's media ports and hears only from them (see `peers.rs`).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use async_trait::async_trait;
use tokio::net::UdpSocket;
use turn::relay::RelayAddressGenerator;
use webrtc_util::Conn;

use crate::peers::AllowedPeers;

/// Makes one relay socket per allocation on the media IP. Only the node's own media
/// workers ever talk to it, on this host, so its port needs no firewall opening.
pub(crate) struct MediaOnlyRelays {
    pub relay_ip: IpAddr,
    pub peers: Arc<AllowedPeers>,
}

#[async_trait]
impl RelayAddressGenerator for MediaOnlyRelays {
    fn validate(&self) -> Result<(), turn::Error> {
        Ok(())
    }

    async fn allocate_conn(
        &self,
        use_ipv4: bool,
        requested_port: u16,
    ) -> Result<(Arc<dyn Conn + Send + Sync>, SocketAddr), turn::Error> {
        if use_ipv4 != self.relay_ip.is_ipv4() {
            return Err(turn::Error::Other(
                "the relay has no address of the requested family".into(),
            ));
        }
        let socket = UdpSocket::bind(SocketAddr::new(self.relay_ip, requested_port))
            .await
            .map_err(|e| turn::Error::Other(format!("cannot bind a relay socket: {e}")))?;
        let relayed = socket
            .local_addr()
            .map_err(|e| turn::Error::Other(e.to_string()))?;
        let conn = MediaOnlyConn {
            socket,
            peers: self.peers.clone(),
        };
        Ok((Arc::new(conn), relayed))
    }
}

/// A relay socket that refuses every peer but the node's media ports.
struct MediaOnlyConn {
    socket: UdpSocket,
    peers: Arc<AllowedPeers>,
}

fn refused(peer: SocketAddr) -> webrtc_util::Error {
    webrtc_util::Error::Other(format!(
        "refused to relay to {peer}: not one of this node's media addresses"
    ))
}

#[async_trait]
impl Conn for MediaOnlyConn {
    async fn connect(&self, addr: SocketAddr) -> webrtc_util::Result<()> {
        Err(refused(addr))
    }

    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        Ok(self.recv_from(buf).await?.0)
    }

    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        loop {
            let (n, source) = self.socket.recv_from(buf).await?;
            // Anything else that finds the port is dropped before the allocation sees it.
            if let Some(seen_as) = self.peers.client_view_of(source) {
                return Ok((n, seen_as));
            }
        }
    }

    async fn send(&self, _buf: &[u8]) -> webrtc_util::Result<usize> {
        Err(webrtc_util::Error::Other(
            "a relay socket is not connected".into(),
        ))
    }

    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> webrtc_util::Result<usize> {
        match self.peers.local_target(target) {
            Some(local) => Ok(self.socket.send_to(buf, local).await?),
            None => Err(refused(target)),
        }
    }

    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        Ok(self.socket.local_addr()?)
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        None
    }

    async fn close(&self) -> webrtc_util::Result<()> {
        Ok(())
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}
