//! What a joining client is told about TURN: URLs it can reach and credentials minted for
//! its connection, in the shape of `joined.ice_servers` entries.

use std::net::IpAddr;
use std::time::Duration;

use crate::credentials::TurnSecret;

/// How long a join's TURN credentials last: the allocation is refreshed with them for the
/// whole call, and a reconnect gets new ones.
pub const CREDENTIAL_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// The TURN servers this node hands out (its own, or coturn's) and their shared secret.
#[derive(Clone, Debug)]
pub struct TurnOffer {
    pub urls: Vec<String>,
    pub secret: TurnSecret,
}

/// One `ice_servers` entry: `{urls, username, credential}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IceServerGrant {
    pub urls: Vec<String>,
    pub username: String,
    pub credential: String,
}

impl TurnOffer {
    /// The entry for connection `id` joining at `now` (unix seconds); none without URLs.
    pub fn grant(&self, id: &str, now: u64) -> Option<IceServerGrant> {
        if self.urls.is_empty() {
            return None;
        }
        let credential = self.secret.mint(id, now + CREDENTIAL_LIFETIME.as_secs());
        Some(IceServerGrant {
            urls: self.urls.clone(),
            username: credential.username,
            credential: credential.password,
        })
    }
}

/// The URLs of the embedded server as a client reaches it at `host`; `turns:` names
/// `tls_name` when given, the name the node's certificate is for (a browser checks it).
pub fn embedded_urls(
    host: IpAddr,
    port: u16,
    tls_port: Option<u16>,
    tls_name: Option<&str>,
) -> Vec<String> {
    let host = match host {
        IpAddr::V6(v6) => format!("[{v6}]"),
        IpAddr::V4(v4) => v4.to_string(),
    };
    let mut urls = vec![
        format!("turn:{host}:{port}?transport=udp"),
        format!("turn:{host}:{port}?transport=tcp"),
    ];
    if let Some(tls_port) = tls_port {
        let name = tls_name.unwrap_or(&host);
        urls.push(format!("turns:{name}:{tls_port}?transport=tcp"));
    }
    urls
}

/// Checks an external TURN URL given with `--turn-url`.
pub fn check_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("turn:")
        .or_else(|| url.strip_prefix("turns:"))
        .ok_or_else(|| format!("{url:?} is not a turn: or turns: URL"))?;
    let host_port = rest.split('?').next().unwrap_or_default();
    if host_port.is_empty() || host_port.contains('/') || host_port.contains('@') {
        return Err(format!("{url:?} has no HOST[:PORT] after the scheme"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_has_coturn_credentials_for_a_day() {
        let offer = TurnOffer {
            urls: embedded_urls("203.0.113.7".parse().unwrap(), 50100, Some(50101), None),
            secret: TurnSecret::new("k"),
        };
        let grant = offer.grant("conn-9", 1_000).unwrap();
        assert_eq!(
            grant.urls,
            [
                "turn:203.0.113.7:50100?transport=udp",
                "turn:203.0.113.7:50100?transport=tcp",
                "turns:203.0.113.7:50101?transport=tcp"
            ]
        );
        assert_eq!(grant.username, "87400:conn-9");
        assert_eq!(
            offer
                .secret
                .verify(&grant.username, &grant.credential, 1_000),
            Ok(())
        );
    }

    #[test]
    fn ipv6_hosts_are_bracketed_and_no_urls_means_no_entry() {
        assert_eq!(
            embedded_urls("2001:db8::1".parse().unwrap(), 3478, None, None)[0],
            "turn:[2001:db8::1]:3478?transport=udp"
        );
        // turns: names the certificate's host, which the browser checks.
        assert_eq!(
            embedded_urls(
                "2001:db8::1".parse().unwrap(),
                3478,
                Some(443),
                Some("rtc.example.com")
            )[2],
            "turns:rtc.example.com:443?transport=tcp"
        );
        let offer = TurnOffer {
            urls: Vec::new(),
            secret: TurnSecret::new("k"),
        };
        assert_eq!(offer.grant("c", 0), None);
    }

    #[test]
    fn external_urls_are_checked() {
        assert!(check_url("turn:turn.example.com:3478?transport=udp").is_ok());
        assert!(check_url("turns:turn.example.com:443?transport=tcp").is_ok());
        assert!(check_url("stun:stun.example.com").is_err());
        assert!(check_url("turn:").is_err());
        assert!(check_url("https://x").is_err());
    }
}
