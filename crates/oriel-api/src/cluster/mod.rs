//! Several nodes as one cluster, through Redis (`--redis-url`); durable state is shared in
//! PostgreSQL (`--database-url`). Without `--redis-url` none of this runs and a node is alone.
//!
//! What Redis holds, all of it live state that expires by itself when a node stops answering:
//!
//! - [`registry`]: each node's address and load, refreshed every second with a short TTL;
//! - [`placement`]: which node holds each live space, claimed atomically, so that every join of
//!   a space reaches one node, which keeps `participant_id` unique with its own lock;
//! - [`live_state`]: the participants of each live space, for the dashboard of every node;
//! - a shared secret that marks a WebSocket relayed by another node ([`relay`]).
//!
//! The [`janitor`] marks idle the spaces left active by a node that is gone, once nobody
//! brought them back within a grace period; the [`leader`] runs what one node does for all.

mod janitor;
mod leader;
mod live_state;
mod ordinal;
mod placement;
mod redis_calls;
#[cfg(test)]
mod redis_tests;
mod registry;
pub(crate) mod relay;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::Context;
use redis::aio::ConnectionManager;

use crate::state::AppState;
use oriel_net::node_link::constant_time_eq;

pub use leader::lead;
pub use placement::Route;
pub use registry::NodeRecord;

/// How often a node tells the cluster it is alive (and refreshes its spaces' placements).
const HEARTBEAT: Duration = Duration::from_secs(1);
/// How often the janitor looks for spaces left active by a node that is gone.
const JANITOR_INTERVAL: Duration = Duration::from_secs(5);

/// How a node joins the cluster.
#[derive(Clone, Debug)]
pub struct ClusterSettings {
    pub redis_url: String,
    /// `http://HOST:PORT` where other nodes reach this node's HTTP listener.
    pub advertise_url: String,
    /// A space's participants beyond this many on its node have their media on another
    /// node's worker (the space spans nodes).
    pub spill_space_after: usize,
}

/// This node's membership of the cluster.
pub struct Cluster {
    redis: ConnectionManager,
    /// Random per process: a restarted node is a new node.
    node_id: String,
    advertise_url: String,
    /// Marks requests one node relays to another (`x-oriel-relay`); shared through Redis.
    relay_secret: String,
    /// Set once the node drains: it takes no more spaces and no longer says it is alive.
    draining: AtomicBool,
    /// Unique among live nodes: numbers this node's media workers cluster-wide.
    ordinal: u16,
    spill_space_after: usize,
    /// HOST:PORT where other nodes' media workers reach this node's, once it listens.
    link_address: OnceLock<String>,
}

impl Cluster {
    /// Connects to Redis and learns the cluster's relay secret (made by the first node).
    pub async fn connect(settings: &ClusterSettings) -> anyhow::Result<Self> {
        let client = redis::Client::open(settings.redis_url.as_str())
            .context("--redis-url is not a Redis URL")?;
        let mut redis =
            tokio::time::timeout(redis_calls::CALL_TIMEOUT, client.get_connection_manager())
                .await
                .context("Redis did not answer in time")?
                .context("cannot connect to Redis")?;
        let relay_secret = redis_calls::shared_secret(&mut redis)
            .await
            .context("cannot read the cluster's relay secret from Redis")?;
        let node_id = oriel_store::new_id();
        let ordinal = ordinal::claim(&mut redis, &node_id)
            .await
            .context("cannot take a node ordinal in Redis")?;
        Ok(Self {
            redis,
            node_id,
            advertise_url: settings.advertise_url.trim_end_matches('/').to_owned(),
            relay_secret,
            draining: AtomicBool::new(false),
            ordinal,
            spill_space_after: settings.spill_space_after,
            link_address: OnceLock::new(),
        })
    }

    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    pub fn ordinal(&self) -> u16 {
        self.ordinal
    }

    /// Lets spaces span nodes: takes other nodes' links to this node's media workers on
    /// `ip` (a free port, advertised under the host of `--advertise-url`).
    pub async fn start_links(
        &self,
        media: &oriel_net::MediaWorkers,
        ip: std::net::IpAddr,
    ) -> anyhow::Result<()> {
        let listener = tokio::net::TcpListener::bind((ip, 0))
            .await
            .with_context(|| format!("cannot listen for links from other nodes on {ip}"))?;
        let port = listener.local_addr()?.port();
        let host = self
            .advertise_url
            .trim_start_matches("http://")
            .rsplit_once(':')
            .map_or(self.advertise_url.as_str(), |(host, _)| host)
            .to_owned();
        let _ = self.link_address.set(format!("{host}:{port}"));
        media.join_cluster(
            listener,
            self.ordinal,
            self.relay_secret.clone(),
            self.spill_space_after,
        );
        tracing::info!(
            ordinal = self.ordinal,
            link = %format!("{host}:{port}"),
            "media workers take links from other nodes"
        );
        Ok(())
    }

    /// Whether a request carries the cluster's relay mark: it was relayed by another node.
    pub fn is_relayed(&self, headers: &axum::http::HeaderMap) -> bool {
        headers
            .get(relay::RELAY_HEADER)
            .is_some_and(|value| constant_time_eq(value.as_bytes(), self.relay_secret.as_bytes()))
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    fn connection(&self) -> ConnectionManager {
        self.redis.clone()
    }

    /// Stops taking spaces: the node leaves the registry and gives up the placements of the
    /// spaces it holds, so that their participants, once their sockets close, are placed on
    /// other nodes when the SDK reconnects.
    pub async fn drain(&self, state: &AppState) {
        self.draining.store(true, Ordering::SeqCst);
        state.media.refuse_remote_joins();
        if let Err(error) = registry::deregister(self).await {
            tracing::warn!(%error, "could not leave the cluster's registry; it expires in seconds");
        }
        let held = state.presence.space_ids().await;
        if let Err(error) = placement::release(self, &held).await {
            tracing::warn!(%error, "could not release the spaces' placements; they expire in seconds");
        }
        tracing::info!(
            spaces = held.len(),
            "draining: left the cluster and released this node's spaces"
        );
    }
}

/// The node's cluster duties, until it shuts down: the heartbeat (registry, placements,
/// live state) every second, the janitor every few seconds.
pub async fn run(state: AppState) {
    let Some(cluster) = state.cluster.clone() else {
        return;
    };
    let mut shutting_down = state.shutting_down.clone();
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut janitor_tick = tokio::time::interval(JANITOR_INTERVAL);
    janitor_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut janitor = janitor::Janitor::default();
    loop {
        tokio::select! {
            _ = heartbeat.tick() => {
                if cluster.is_draining() {
                    continue;
                }
                beat(&cluster, &state).await;
            }
            _ = janitor_tick.tick() => {
                if cluster.is_draining() {
                    continue;
                }
                if let Err(error) = janitor.sweep(&cluster, &state).await {
                    tracing::warn!(%error, "the cluster janitor could not look at the active spaces");
                }
            }
            _ = async { shutting_down.wait_for(|down| *down).await.map(|_| ()) } => return,
        }
    }
}

/// One heartbeat: the node's record with its load, the placements of the spaces it holds,
/// and their participants for other nodes' dashboards.
async fn beat(cluster: &Cluster, state: &AppState) {
    let (spaces, participants) = state.presence.counts().await;
    let media = state.media.totals().connections as usize;
    if let Err(error) =
        registry::register(cluster, spaces, participants, media, state.media.count()).await
    {
        tracing::warn!(%error, "could not refresh this node in the cluster's registry");
    }
    if let Err(error) = ordinal::keep(cluster).await {
        tracing::warn!(%error, "could not keep this node's ordinal");
    }
    // The other nodes, for spaces that outgrow this one.
    match registry::live_nodes(cluster).await {
        Ok(nodes) => state.media.set_peer_nodes(
            nodes
                .into_iter()
                .filter(|n| n.id != cluster.node_id)
                .filter_map(|n| {
                    Some(oriel_net::PeerNode {
                        ordinal: n.ordinal?,
                        workers: n.workers,
                        load: n.media as u64,
                        link_address: n.link?,
                    })
                })
                .collect(),
        ),
        Err(error) => tracing::warn!(%error, "could not read the cluster's nodes"),
    }
    let held = state.presence.space_ids().await;
    match placement::keep(cluster, &held).await {
        Ok(taken) => {
            for space_id in taken {
                // Another node placed it meanwhile (this one was thought gone): the space has
                // one node again once the participants here reconnect to that one.
                tracing::warn!(%space_id, "another node holds a space this node serves; moving its participants there");
                state.presence.hand_off(&space_id).await;
            }
        }
        Err(error) => {
            tracing::warn!(%error, "could not refresh the placements of this node's spaces")
        }
    }
    live_state::publish(cluster, state, &held).await;
}

/// The participants of a space as the node holding it last published them, for the dashboard
/// of a node that does not hold it.
pub async fn remote_participants(
    cluster: &Cluster,
    space_id: &str,
) -> Option<Vec<serde_json::Value>> {
    live_state::read(cluster, space_id).await
}

#[cfg(test)]
mod tests {
    use oriel_net::node_link::constant_time_eq;

    #[test]
    fn secrets_compare_whole() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
    }
}
