//! `oriel serve`'s cluster flags: with `--redis-url`, the node joins the nodes that share that
//! Redis (and the PostgreSQL of `--database-url`) as one cluster; see `oriel_api::cluster`.

use std::net::{IpAddr, SocketAddr};

use anyhow::Context;
use clap::Args;
use oriel_api::cluster::{Cluster, ClusterSettings};

#[derive(Args, Debug)]
pub struct ClusterArgs {
    /// Redis of the cluster (redis://[:PASSWORD@]HOST:PORT[/DB]): nodes given the same one
    /// (and the same --database-url) place each space on one of them and relay joins to it.
    #[arg(long, env = "ORIEL_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Where the other nodes reach this node's --listen, as http://HOST:PORT. Default: the
    /// --listen address, or for a wildcard one the first --media-ip with the --listen port.
    #[arg(long, env = "ORIEL_ADVERTISE_URL", requires = "redis_url")]
    pub advertise_url: Option<String>,
    /// In a cluster, a space's participants beyond this many on the node that holds it have
    /// their media on another node (the space spans nodes, each track crossing once to each);
    /// a node is filled before the next is used.
    #[arg(
        long,
        env = "ORIEL_SPILL_SPACE_AFTER",
        default_value_t = 250,
        value_parser = clap::value_parser!(u32).range(1..),
        requires = "redis_url"
    )]
    pub spill_space_after: u32,
}

/// What the node's addresses are, for the default advertised URL.
pub struct NodeAddresses<'a> {
    pub listen: SocketAddr,
    pub media_ips: &'a [IpAddr],
    /// Whether --listen serves TLS.
    pub tls: bool,
}

/// Joins the cluster when `--redis-url` is given.
pub async fn join(args: &ClusterArgs, node: NodeAddresses<'_>) -> anyhow::Result<Option<Cluster>> {
    let Some(redis_url) = &args.redis_url else {
        return Ok(None);
    };
    // The relay between nodes speaks plain HTTP to --listen.
    anyhow::ensure!(
        !node.tls,
        "--redis-url: the nodes of a cluster relay signaling to each other over plain HTTP on \
         --listen, so a node of a cluster cannot serve TLS itself; end TLS at the load balancer"
    );
    let advertise_url = match &args.advertise_url {
        Some(url) => url.clone(),
        None => default_advertise_url(node.listen, node.media_ips),
    };
    anyhow::ensure!(
        advertise_url.starts_with("http://"),
        "--advertise-url must be http://HOST:PORT, not {advertise_url}"
    );
    let cluster = Cluster::connect(&ClusterSettings {
        redis_url: redis_url.clone(),
        advertise_url: advertise_url.clone(),
        spill_space_after: args.spill_space_after as usize,
    })
    .await
    .context("cannot join the cluster")?;
    tracing::info!(node_id = %cluster.node_id(), %advertise_url, "joined the cluster");
    Ok(Some(cluster))
}

fn default_advertise_url(listen: SocketAddr, media_ips: &[IpAddr]) -> String {
    let ip = match media_ips.first() {
        Some(media_ip) if listen.ip().is_unspecified() => *media_ip,
        _ => listen.ip(),
    };
    format!("http://{}", SocketAddr::new(ip, listen.port()))
}

#[cfg(test)]
mod tests {
    use super::default_advertise_url;

    #[test]
    fn the_advertised_url_is_an_address_others_can_reach() {
        let media = ["10.0.0.5".parse().unwrap()];
        assert_eq!(
            default_advertise_url("127.0.0.1:8080".parse().unwrap(), &media),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            default_advertise_url("0.0.0.0:8080".parse().unwrap(), &media),
            "http://10.0.0.5:8080"
        );
        assert_eq!(
            default_advertise_url("[::1]:8080".parse().unwrap(), &media),
            "http://[::1]:8080"
        );
    }
}
