//! The nodes of the cluster: each one writes its record (address, load) every second under a
//! key that expires after a few seconds, so a node that dies or loses Redis drops out by
//! itself.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::redis_calls::{node_key, nodes_key, query, CallError};
use super::Cluster;

/// A node's record expires this long after its last heartbeat.
const NODE_TTL: Duration = Duration::from_secs(5);

/// What a node tells the others about itself.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct NodeRecord {
    pub id: String,
    /// `http://HOST:PORT` of its HTTP listener.
    pub url: String,
    /// Spaces it holds participants of.
    pub spaces: usize,
    /// Visible participants connected to it.
    pub participants: usize,
    /// Its number for spaces that span nodes, and where its media workers take links.
    #[serde(default)]
    pub ordinal: Option<u16>,
    #[serde(default)]
    pub link: Option<String>,
    /// Its media workers, and the connections they hold (some for spaces held elsewhere).
    #[serde(default)]
    pub workers: usize,
    #[serde(default)]
    pub media: usize,
}

pub async fn register(
    cluster: &Cluster,
    spaces: usize,
    participants: usize,
    media: usize,
    workers: usize,
) -> Result<(), CallError> {
    let record = NodeRecord {
        id: cluster.node_id.clone(),
        url: cluster.advertise_url.clone(),
        spaces,
        participants,
        ordinal: Some(cluster.ordinal),
        link: cluster.link_address.get().cloned(),
        workers,
        media,
    };
    let json = serde_json::to_string(&record).unwrap_or_default();
    let mut redis = cluster.connection();
    let mut pipe = redis::pipe();
    pipe.cmd("SET")
        .arg(node_key(&record.id))
        .arg(json)
        .arg("PX")
        .arg(millis(NODE_TTL))
        .ignore()
        .cmd("SADD")
        .arg(nodes_key())
        .arg(&record.id)
        .ignore();
    match tokio::time::timeout(
        super::redis_calls::CALL_TIMEOUT,
        pipe.query_async::<()>(&mut redis),
    )
    .await
    {
        Ok(result) => Ok(result?),
        Err(_) => Err(CallError::TimedOut),
    }
}

/// Leaves the registry at once (a draining node), instead of expiring seconds later.
pub async fn deregister(cluster: &Cluster) -> Result<(), CallError> {
    forget(cluster, &cluster.node_id).await
}

/// Removes a node's record: it drains, or another node found its listener closed.
pub async fn forget(cluster: &Cluster, node_id: &str) -> Result<(), CallError> {
    let mut redis = cluster.connection();
    let _: i64 = query(&mut redis, redis::cmd("DEL").arg(node_key(node_id))).await?;
    let _: i64 = query(&mut redis, redis::cmd("SREM").arg(nodes_key()).arg(node_id)).await?;
    Ok(())
}

/// A node's record while it is alive.
pub async fn node(cluster: &Cluster, node_id: &str) -> Result<Option<NodeRecord>, CallError> {
    let mut redis = cluster.connection();
    let json: Option<String> = query(&mut redis, redis::cmd("GET").arg(node_key(node_id))).await?;
    Ok(json.and_then(|json| serde_json::from_str(&json).ok()))
}

/// Every node alive now. Ids whose record expired are dropped from the set on the way.
pub async fn live_nodes(cluster: &Cluster) -> Result<Vec<NodeRecord>, CallError> {
    let mut redis = cluster.connection();
    let ids: Vec<String> = query(&mut redis, redis::cmd("SMEMBERS").arg(nodes_key())).await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<String> = ids.iter().map(|id| node_key(id)).collect();
    let records: Vec<Option<String>> = query(&mut redis, redis::cmd("MGET").arg(keys)).await?;
    let mut alive = Vec::with_capacity(ids.len());
    let mut expired = Vec::new();
    for (id, record) in ids.into_iter().zip(records) {
        match record.and_then(|json| serde_json::from_str::<NodeRecord>(&json).ok()) {
            Some(record) => alive.push(record),
            None => expired.push(id),
        }
    }
    if !expired.is_empty() {
        let _: i64 = query(&mut redis, redis::cmd("SREM").arg(nodes_key()).arg(expired)).await?;
    }
    Ok(alive)
}

/// The node a new space goes to: the one with the fewest participants, then the fewest
/// spaces; ties are broken at random so that an empty cluster spreads its first spaces.
pub fn least_loaded(nodes: &[NodeRecord]) -> Option<&NodeRecord> {
    use rand::seq::SliceRandom;
    let lightest = nodes.iter().map(|n| (n.participants, n.spaces)).min()?;
    let tied: Vec<&NodeRecord> = nodes
        .iter()
        .filter(|n| (n.participants, n.spaces) == lightest)
        .collect();
    tied.choose(&mut rand::thread_rng()).copied()
}

pub fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, spaces: usize, participants: usize) -> NodeRecord {
        NodeRecord {
            id: id.into(),
            url: format!("http://{id}"),
            spaces,
            participants,
            ordinal: None,
            link: None,
            workers: 1,
            media: 0,
        }
    }

    #[test]
    fn the_least_loaded_node_has_the_fewest_participants_then_spaces() {
        assert_eq!(least_loaded(&[]), None);
        let nodes = [node("a", 1, 10), node("b", 3, 4), node("c", 2, 4)];
        assert_eq!(least_loaded(&nodes).unwrap().id, "c");
    }

    #[test]
    fn ties_are_spread() {
        let nodes = [node("a", 0, 0), node("b", 0, 0), node("c", 5, 9)];
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            seen.insert(least_loaded(&nodes).unwrap().id.clone());
        }
        assert_eq!(
            seen.len(),
            2,
            "both idle nodes are chosen, never the busy one: {seen:?}"
        );
        assert!(!seen.contains("c"));
    }
}
