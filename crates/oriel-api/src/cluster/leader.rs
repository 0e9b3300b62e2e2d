//! Work one node does for the whole cluster: running the broadcasts' compositors (each one
//! joins its space through this node, which relays it to the space's node) and delivering
//! webhooks, which every node would otherwise send once each. The node holding the leader key
//! does it; the key expires when its node stops refreshing it, and another node takes over.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::redis_calls::{leader_key, script, CallError, CLAIM_OR_KEEP, RELEASE_HELD};
use super::registry::millis;
use super::Cluster;

/// A leader that stops answering is replaced this long after its last refresh.
const LEADER_TTL: Duration = Duration::from_secs(5);
const REFRESH: Duration = Duration::from_secs(1);

/// Keeps `leading` true while this node is the leader, until the node shuts down (when it
/// gives the key up, so that another node takes over within a second).
pub async fn lead(
    cluster: Arc<Cluster>,
    leading: watch::Sender<bool>,
    mut shutting_down: watch::Receiver<bool>,
) {
    let mut refresh = tokio::time::interval(REFRESH);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = refresh.tick() => {}
            _ = async { shutting_down.wait_for(|down| *down).await.map(|_| ()) } => break,
        }
        let leader = if cluster.is_draining() {
            false
        } else {
            match take_or_keep(&cluster).await {
                Ok(holder) => holder == cluster.node_id,
                Err(error) => {
                    // Unsure: keep what was, rather than stop and start compositors on a blip.
                    tracing::warn!(%error, "could not refresh the cluster's leader key");
                    continue;
                }
            }
        };
        leading.send_if_modified(|was| {
            let changed = *was != leader;
            if changed {
                tracing::info!(leader, "this node's share of the cluster-wide work changed");
            }
            *was = leader;
            changed
        });
    }
    let mut redis = cluster.connection();
    let _: Result<i64, CallError> = script(
        &mut redis,
        RELEASE_HELD,
        &[leader_key()],
        std::slice::from_ref(&cluster.node_id),
    )
    .await;
}

async fn take_or_keep(cluster: &Cluster) -> Result<String, CallError> {
    let mut redis = cluster.connection();
    script(
        &mut redis,
        CLAIM_OR_KEEP,
        &[leader_key()],
        &[cluster.node_id.clone(), millis(LEADER_TTL).to_string()],
    )
    .await
}
