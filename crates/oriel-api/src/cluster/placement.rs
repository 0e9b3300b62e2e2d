//! Which node holds a space: one key per live space naming its node, claimed atomically (a
//! Lua script, which Redis runs as one command), so two nodes placing the same space at once
//! agree on one. The holder refreshes the claim every heartbeat while it has participants of
//! the space; a claim whose node left the registry is stale and is replaced at the next join.

use std::time::Duration;

use super::redis_calls::{placement_key, query, script, CallError, CLAIM_OR_KEEP, RELEASE_HELD};
use super::registry::{self, millis, NodeRecord};
use super::Cluster;

/// A claim lives this long without a refresh: long enough to cover the moment between a
/// placement and the first participant's admission, short enough that an abandoned claim
/// (the client went away before joining) does not pin a space for long.
const PLACEMENT_TTL: Duration = Duration::from_secs(15);
/// Rounds of look-up, claim and stale-claim removal one join may take.
const MAX_ROUTE_ROUNDS: usize = 4;

/// Refreshes (or takes back, when expired) every claim ARGV[1] holds; returns the 1-based
/// indexes of the keys another node holds.
const KEEP: &str = r"
local taken = {}
for i, key in ipairs(KEYS) do
  local holder = redis.call('GET', key)
  if not holder then
    redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
  elseif holder == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
  else
    table.insert(taken, i)
  end
end
return taken
";

/// Where a join goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// This node holds the space: it serves the join.
    Local,
    /// Another node holds it: the join is relayed there.
    Remote(NodeRecord),
    /// A join relayed to this node that it must not serve (the space moved meanwhile, or this
    /// node drains) and must not relay again: the client is told to reconnect.
    Moved,
}

/// Decides where a join of `space_id` goes, claiming the space for the least-loaded node if
/// nobody holds it. `relayed`: another node sent this join here because it found this node
/// holding the space. When Redis cannot be reached the node serves the join itself: a cluster
/// whose Redis is down degrades to nodes that each serve what reaches them.
pub async fn route(cluster: &Cluster, space_id: &str, relayed: bool) -> Route {
    match try_route(cluster, space_id, relayed).await {
        Ok(route) => route,
        Err(error) => {
            tracing::warn!(%error, %space_id, "cannot place the space through Redis; serving the join here");
            Route::Local
        }
    }
}

async fn try_route(cluster: &Cluster, space_id: &str, relayed: bool) -> Result<Route, CallError> {
    let key = placement_key(space_id);
    for _ in 0..MAX_ROUTE_ROUNDS {
        let mut redis = cluster.connection();
        let holder: Option<String> = query(&mut redis, redis::cmd("GET").arg(&key)).await?;
        let holder = match holder {
            Some(holder) => holder,
            None => {
                let Some(candidate) = candidate(cluster, relayed).await? else {
                    return Ok(Route::Moved);
                };
                claim(cluster, space_id, &candidate).await?
            }
        };
        if holder == cluster.node_id {
            if cluster.is_draining() {
                release(cluster, &[space_id.to_owned()]).await?;
                if relayed {
                    return Ok(Route::Moved);
                }
                continue;
            }
            // Refreshed as it is used: the claim cannot lapse between here and the admission.
            if claim(cluster, space_id, &cluster.node_id).await? == cluster.node_id {
                return Ok(Route::Local);
            }
            continue;
        }
        match registry::node(cluster, &holder).await? {
            Some(_) if relayed => return Ok(Route::Moved),
            Some(record) => return Ok(Route::Remote(record)),
            None => {
                tracing::info!(%space_id, node_id = %holder, "the node holding the space is gone; placing it again");
                release_for(cluster, &holder, &[space_id.to_owned()]).await?;
            }
        }
    }
    tracing::warn!(%space_id, "the space's placement kept changing; serving the join here");
    Ok(Route::Local)
}

/// The node a space nobody holds goes to: the least-loaded live node; this node itself for a
/// relayed join (its sender found it holding the space) or when the registry is empty (its
/// first heartbeat has not run yet). None: a relayed join reached a draining node.
async fn candidate(cluster: &Cluster, relayed: bool) -> Result<Option<String>, CallError> {
    if relayed {
        return Ok((!cluster.is_draining()).then(|| cluster.node_id.clone()));
    }
    let nodes = registry::live_nodes(cluster).await?;
    Ok(Some(match registry::least_loaded(&nodes) {
        Some(node) => node.id.clone(),
        None => cluster.node_id.clone(),
    }))
}

async fn claim(cluster: &Cluster, space_id: &str, node_id: &str) -> Result<String, CallError> {
    let mut redis = cluster.connection();
    script(
        &mut redis,
        CLAIM_OR_KEEP,
        &[placement_key(space_id)],
        &[node_id.to_owned(), millis(PLACEMENT_TTL).to_string()],
    )
    .await
}

/// Refreshes this node's claims on the spaces it serves; returns those another node holds.
pub async fn keep(cluster: &Cluster, space_ids: &[String]) -> Result<Vec<String>, CallError> {
    if space_ids.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<String> = space_ids.iter().map(|id| placement_key(id)).collect();
    let mut redis = cluster.connection();
    let taken: Vec<usize> = script(
        &mut redis,
        KEEP,
        &keys,
        &[cluster.node_id.clone(), millis(PLACEMENT_TTL).to_string()],
    )
    .await?;
    Ok(taken
        .into_iter()
        .filter_map(|index| space_ids.get(index.checked_sub(1)?).cloned())
        .collect())
}

/// Gives up this node's claims on these spaces (those another node holds stay).
pub async fn release(cluster: &Cluster, space_ids: &[String]) -> Result<(), CallError> {
    release_for(cluster, &cluster.node_id, space_ids).await
}

/// Deletes the claims `node_id` holds on these spaces.
async fn release_for(
    cluster: &Cluster,
    node_id: &str,
    space_ids: &[String],
) -> Result<(), CallError> {
    if space_ids.is_empty() {
        return Ok(());
    }
    let keys: Vec<String> = space_ids.iter().map(|id| placement_key(id)).collect();
    let mut redis = cluster.connection();
    let _: i64 = script(&mut redis, RELEASE_HELD, &keys, &[node_id.to_owned()]).await?;
    Ok(())
}

/// A relay found `node_id`'s listener closed (it died or drains): it leaves the registry and
/// loses the space at once, rather than seconds later when its keys expire, so the join that
/// found it can be placed elsewhere right away. A live node puts its record back within a
/// heartbeat.
pub async fn holder_unreachable(
    cluster: &Cluster,
    space_id: &str,
    node_id: &str,
) -> Result<(), CallError> {
    registry::forget(cluster, node_id).await?;
    release_for(cluster, node_id, &[space_id.to_owned()]).await
}

/// The holders of these spaces, in order.
pub async fn holders(
    cluster: &Cluster,
    space_ids: &[String],
) -> Result<Vec<Option<String>>, CallError> {
    if space_ids.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<String> = space_ids.iter().map(|id| placement_key(id)).collect();
    let mut redis = cluster.connection();
    // MGET of one key answers a list too.
    query(&mut redis, redis::cmd("MGET").arg(keys)).await
}

/// Claims an orphaned space for this node, replacing the claim of the gone node `stale`;
/// false when a live node holds it now.
pub async fn take_orphan(
    cluster: &Cluster,
    space_id: &str,
    stale: Option<&str>,
) -> Result<bool, CallError> {
    if let Some(stale) = stale {
        release_for(cluster, stale, &[space_id.to_owned()]).await?;
    }
    Ok(claim(cluster, space_id, &cluster.node_id).await? == cluster.node_id)
}
