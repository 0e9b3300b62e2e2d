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
/// A leader that cannot confirm its key for this long steps down: the key may expire a
/// refresh later and another node take it, and two nodes must never both compose a broadcast.
const STEP_DOWN_AFTER: Duration = LEADER_TTL.saturating_sub(REFRESH);

/// Keeps `leading` true while this node is the leader, until the node shuts down (when it
/// gives the key up, so that another node takes over within a second).
pub async fn lead(
    cluster: Arc<Cluster>,
    leading: watch::Sender<bool>,
    mut shutting_down: watch::Receiver<bool>,
) {
    let mut refresh = tokio::time::interval(REFRESH);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // When Redis last confirmed that this node holds the key.
    let mut confirmed: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            _ = refresh.tick() => {}
            _ = async { shutting_down.wait_for(|down| *down).await.map(|_| ()) } => break,
        }
        let leader = if cluster.is_draining() {
            false
        } else {
            let asked_at = tokio::time::Instant::now();
            match take_or_keep(&cluster).await {
                Ok(holder) => {
                    let held = holder == cluster.node_id;
                    confirmed = held.then_some(asked_at);
                    held
                }
                Err(error) => {
                    tracing::warn!(%error, "could not refresh the cluster's leader key");
                    // Unsure: keep what was on a blip, rather than stop and start compositors,
                    // but never past the time another node could have taken the key.
                    let expired = confirmed.is_none_or(|at| at.elapsed() >= STEP_DOWN_AFTER);
                    if !(*leading.borrow() && expired) {
                        continue;
                    }
                    tracing::error!(
                        "stepping down as the cluster's leader: its key could not be kept"
                    );
                    confirmed = None;
                    false
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
