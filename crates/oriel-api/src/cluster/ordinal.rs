//! A node's ordinal: a small number unique among the live nodes, which numbers its media
//! workers cluster-wide (ordinal × 16 + worker) for spaces that span nodes. Claimed in Redis
//! with the same claim-or-keep script as placements, under a key that expires unless the
//! node's heartbeat keeps it.

use std::time::Duration;

use super::redis_calls::{query, script, CallError, CLAIM_OR_KEEP, PREFIX};
use super::Cluster;

/// Ordinals run below this: 4096 nodes × 16 workers fill the 16 bits a shard number has.
pub const ORDINALS: u64 = 4096;
/// A claim lapses this long after the node's last heartbeat.
const ORDINAL_TTL: Duration = Duration::from_secs(10);

fn ordinal_key(ordinal: u16) -> String {
    format!("{PREFIX}ordinal:{ordinal}")
}

/// Takes a free ordinal for `node_id`: the next after the last one given, skipping those live
/// nodes hold.
pub async fn claim(
    redis: &mut redis::aio::ConnectionManager,
    node_id: &str,
) -> Result<u16, CallError> {
    for _ in 0..ORDINALS {
        let next: u64 = query(
            redis,
            redis::cmd("INCR").arg(format!("{PREFIX}ordinal-counter")),
        )
        .await?;
        let ordinal = (next % ORDINALS) as u16;
        let holder: String = script(
            redis,
            CLAIM_OR_KEEP,
            &[ordinal_key(ordinal)],
            &[node_id.to_owned(), ORDINAL_TTL.as_millis().to_string()],
        )
        .await?;
        if holder == node_id {
            return Ok(ordinal);
        }
    }
    Err(CallError::Exhausted)
}

/// Keeps the node's ordinal; says so if another node took it meanwhile (this node was cut off
/// from Redis for longer than the claim lasts).
pub async fn keep(cluster: &Cluster) -> Result<(), CallError> {
    let mut redis = cluster.connection();
    let holder: String = script(
        &mut redis,
        CLAIM_OR_KEEP,
        &[ordinal_key(cluster.ordinal)],
        &[cluster.node_id.clone(), ORDINAL_TTL.as_millis().to_string()],
    )
    .await?;
    if holder != cluster.node_id {
        tracing::error!(
            ordinal = cluster.ordinal,
            %holder,
            "another node took this node's ordinal while it was cut off from Redis; spaces spanning both may mix up their shards"
        );
    }
    Ok(())
}
