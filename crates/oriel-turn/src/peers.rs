//! Whom the embedded relay may talk to: only this node's own media ports.
//!
//! A TURN server beside an SFU exists to carry a browser's media to that SFU, nothing else.
//! Relaying anywhere else would make it an open proxy, and one standing inside the network
//! the node runs in (SSRF to databases, metadata services, other hosts). So a relay sends only
//! to, and accepts only from, the node's media IP (or the public IP it is advertised as)
//! on its media ports.

use std::net::{IpAddr, SocketAddr};
use std::ops::Range;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedPeers {
    /// Where the media workers are bound.
    media_ip: IpAddr,
    /// What browsers know the media workers as (a 1:1 NAT's public address), if not media_ip.
    public_ip: Option<IpAddr>,
    /// The media ports (one per worker; the ICE-TCP port is not relayed, TURN carries UDP).
    ports: Range<u16>,
}

impl AllowedPeers {
    pub fn new(media_ip: IpAddr, public_ip: Option<IpAddr>, ports: Range<u16>) -> Self {
        Self {
            media_ip,
            public_ip: public_ip.filter(|ip| *ip != media_ip),
            ports,
        }
    }

    /// Whether a client may ask for a permission or channel to `peer`.
    pub fn allows(&self, peer: SocketAddr) -> bool {
        self.local_target(peer).is_some()
    }

    /// Where a datagram a client sends to `peer` really goes: the media socket on this host,
    /// also when the client names it by its public address. `None`: refused.
    pub fn local_target(&self, peer: SocketAddr) -> Option<SocketAddr> {
        let ip = peer.ip();
        let ours = ip == self.media_ip || Some(ip) == self.public_ip;
        (ours && self.ports.contains(&peer.port()))
            .then(|| SocketAddr::new(self.media_ip, peer.port()))
    }

    /// The address a datagram from `source` is presented to the client as (the one it
    /// holds a permission for). `None`: not from our media ports, dropped.
    pub fn client_view_of(&self, source: SocketAddr) -> Option<SocketAddr> {
        (source.ip() == self.media_ip && self.ports.contains(&source.port()))
            .then(|| SocketAddr::new(self.public_ip.unwrap_or(self.media_ip), source.port()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_the_media_ports_of_the_media_ip_are_allowed() {
        let peers = AllowedPeers::new("10.0.0.5".parse().unwrap(), None, 50000..50002);
        assert!(peers.allows(addr("10.0.0.5:50000")));
        assert!(peers.allows(addr("10.0.0.5:50001")));
        assert!(
            !peers.allows(addr("10.0.0.5:50002")),
            "past the workers' ports"
        );
        assert!(
            !peers.allows(addr("10.0.0.5:5432")),
            "another service on the node"
        );
        assert!(!peers.allows(addr("10.0.0.6:50000")), "another host");
        assert!(
            !peers.allows(addr("169.254.169.254:80")),
            "a metadata service"
        );
        assert!(!peers.allows(addr("[::1]:50000")));
        assert_eq!(
            peers.client_view_of(addr("10.0.0.5:50001")),
            Some(addr("10.0.0.5:50001"))
        );
        assert_eq!(peers.client_view_of(addr("10.0.0.5:22")), None);
        assert_eq!(peers.client_view_of(addr("10.0.0.9:50001")), None);
    }

    #[test]
    fn a_public_ip_is_translated_to_the_media_ip() {
        let peers = AllowedPeers::new(
            "10.0.0.5".parse().unwrap(),
            Some("203.0.113.7".parse().unwrap()),
            50000..50016,
        );
        assert_eq!(
            peers.local_target(addr("203.0.113.7:50003")),
            Some(addr("10.0.0.5:50003"))
        );
        assert_eq!(
            peers.local_target(addr("10.0.0.5:50003")),
            Some(addr("10.0.0.5:50003"))
        );
        assert_eq!(peers.local_target(addr("203.0.113.7:8080")), None);
        assert_eq!(
            peers.client_view_of(addr("10.0.0.5:50003")),
            Some(addr("203.0.113.7:50003"))
        );
    }
}
