//! Spaces the store says are active but no live node holds: their node died (or drained) and
//! nobody came back within the grace period, so nothing will ever mark them idle otherwise.
//! Every node sweeps; a space is marked idle by the node that claims it for the moment, so no
//! join can be placed while it does (that join then starts a new session).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use super::placement;
use super::registry;
use super::Cluster;
use crate::state::AppState;

/// How long a space may stay active without a live node holding it before it goes idle: longer
/// than the SDK takes to reconnect its participants to another node (its first attempt is
/// immediate, the next ones 5 s apart), so a call that moves is not cut in two sessions.
const ORPHAN_GRACE: Duration = Duration::from_secs(20);

#[derive(Default)]
pub struct Janitor {
    /// When each orphaned space was first seen so.
    orphaned_since: HashMap<String, Instant>,
}

impl Janitor {
    pub async fn sweep(&mut self, cluster: &Cluster, state: &AppState) -> anyhow::Result<()> {
        let active = state.store.active_space_ids().await?;
        let live: HashSet<String> = registry::live_nodes(cluster)
            .await?
            .into_iter()
            .map(|node| node.id)
            .collect();
        let holders = placement::holders(cluster, &active).await?;
        let now = Instant::now();
        let mut still_orphaned = HashMap::new();
        for (space_id, holder) in active.into_iter().zip(holders) {
            let orphaned = match &holder {
                None => true,
                Some(node_id) => node_id != cluster.node_id() && !live.contains(node_id),
            };
            if !orphaned {
                continue;
            }
            let since = self.orphaned_since.get(&space_id).copied().unwrap_or(now);
            if now.duration_since(since) < ORPHAN_GRACE {
                still_orphaned.insert(space_id, since);
                continue;
            }
            if !placement::take_orphan(cluster, &space_id, holder.as_deref()).await? {
                // A join placed it meanwhile: it is alive again.
                continue;
            }
            let marked = state.presence.deactivate_if_absent(&space_id).await;
            placement::release(cluster, std::slice::from_ref(&space_id)).await?;
            match marked {
                Ok(true) => tracing::info!(%space_id, "marked idle a space no live node held"),
                Ok(false) => {}
                Err(error) => {
                    tracing::error!(%error, %space_id, "could not mark an orphaned space idle")
                }
            }
        }
        self.orphaned_since = still_orphaned;
        Ok(())
    }
}
