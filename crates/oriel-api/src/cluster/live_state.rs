//! The participants of each space, as the node holding it sees them, published to Redis every
//! heartbeat so that the dashboard of any node shows them. The REST API needs none of this:
//! a space's status and session live in the shared store.

use std::time::Duration;

use super::redis_calls::{participants_key, query, CallError, CALL_TIMEOUT};
use super::registry::millis;
use super::Cluster;
use crate::state::AppState;

/// A published list outlives a few missed heartbeats, not a node that stopped.
const PARTICIPANTS_TTL: Duration = Duration::from_secs(3);
/// A media worker answers within microseconds; a stopped one never does.
const SNAPSHOT_TIMEOUT: Duration = Duration::from_millis(500);

/// Publishes the participants of the spaces this node holds.
pub async fn publish(cluster: &Cluster, state: &AppState, space_ids: &[String]) {
    if space_ids.is_empty() {
        return;
    }
    let mut pipe = redis::pipe();
    for space_id in space_ids {
        let Ok(snapshot) =
            tokio::time::timeout(SNAPSHOT_TIMEOUT, state.media.snapshot(space_id)).await
        else {
            continue;
        };
        let participants = crate::dashboard::participants_view(&snapshot.unwrap_or_default());
        let json = serde_json::Value::Array(participants).to_string();
        pipe.cmd("SET")
            .arg(participants_key(space_id))
            .arg(json)
            .arg("PX")
            .arg(millis(PARTICIPANTS_TTL))
            .ignore();
    }
    let mut redis = cluster.connection();
    let sent = match tokio::time::timeout(CALL_TIMEOUT, pipe.query_async::<()>(&mut redis)).await {
        Ok(result) => result.map_err(CallError::from),
        Err(_) => Err(CallError::TimedOut),
    };
    if let Err(error) = sent {
        tracing::warn!(%error, "could not publish the live participants of this node's spaces");
    }
}

/// The participants of a space another node holds, as it last published them.
pub async fn read(cluster: &Cluster, space_id: &str) -> Option<Vec<serde_json::Value>> {
    let mut redis = cluster.connection();
    let json: Option<String> = query(
        &mut redis,
        redis::cmd("GET").arg(participants_key(space_id)),
    )
    .await
    .map_err(
        |error| tracing::warn!(%error, %space_id, "could not read a space's live participants"),
    )
    .ok()
    .flatten();
    serde_json::from_str(&json?).ok()
}
