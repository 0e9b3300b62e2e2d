//! Which webhook URLs a node sends to. Self-hosted apps usually run beside Oriel, so loopback
//! and private addresses are allowed by default; a node serving strangers refuses them, both
//! as written in the URL and as a host name resolves at each delivery (so a name cannot be
//! pointed at the inside later).

use std::net::{IpAddr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

#[derive(Debug, PartialEq, Eq)]
pub enum UrlProblem {
    Malformed,
    Private,
}

/// An absolute http(s) URL with a host, and with no private IP literal when those are refused.
pub fn check_endpoint_url(url: &str, refuse_private: bool) -> Result<Url, UrlProblem> {
    let parsed = Url::parse(url).map_err(|_| UrlProblem::Malformed)?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(UrlProblem::Malformed);
    }
    let literal = match parsed.host() {
        None => return Err(UrlProblem::Malformed),
        Some(url::Host::Domain(_)) => None,
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
    };
    if refuse_private && literal.is_some_and(is_internal) {
        return Err(UrlProblem::Private);
    }
    Ok(parsed)
}

/// Loopback, private, link-local, shared (carrier NAT), unspecified or multicast: addresses
/// that reach the node's own network rather than the internet.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

/// The system resolver, keeping only public addresses.
pub struct PublicOnlyResolver;

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let public: Vec<SocketAddr> = found.filter(|a| !is_internal(a.ip())).collect();
            if public.is_empty() {
                return Err(format!(
                    "{} resolves only to loopback or private addresses, which this node refuses",
                    name.as_str()
                )
                .into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_absolute_http_with_a_host() {
        assert!(check_endpoint_url("http://127.0.0.1:9000/hooks", false).is_ok());
        assert!(check_endpoint_url("https://example.com/mux", true).is_ok());
        for bad in [
            "",
            "example.com/x",
            "ftp://example.com/",
            "javascript:alert(1)",
            "file:///etc/passwd",
        ] {
            assert_eq!(
                check_endpoint_url(bad, false).unwrap_err(),
                UrlProblem::Malformed,
                "{bad}"
            );
        }
    }

    #[test]
    fn internal_literals_are_refused_only_when_asked() {
        for url in [
            "http://127.0.0.1/",
            "http://10.1.2.3/",
            "http://192.168.0.1/",
            "http://172.20.0.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://100.64.0.1/",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://0.0.0.0/",
        ] {
            assert_eq!(
                check_endpoint_url(url, true).unwrap_err(),
                UrlProblem::Private,
                "{url}"
            );
            assert!(check_endpoint_url(url, false).is_ok(), "{url}");
        }
        assert!(check_endpoint_url("http://8.8.8.8/", true).is_ok());
        assert!(check_endpoint_url("http://[2001:4860::8888]/", true).is_ok());
    }
}
