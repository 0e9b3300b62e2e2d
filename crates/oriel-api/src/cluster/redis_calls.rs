//! The Redis keys the cluster uses, and calls to Redis that give up after a deadline: a Redis
//! that stops answering must slow a join down by a second at most, never hang it.

use std::time::Duration;

use rand::RngCore;
use redis::aio::ConnectionManager;
use redis::{Cmd, FromRedisValue};

/// Longest a single Redis call may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(1);

/// Every key starts with this, so that the cluster can share a Redis with other programs.
pub const PREFIX: &str = "oriel:";

/// Claims KEYS[1] for ARGV[1] (for ARGV[2] ms) unless another holds it; refreshes it if
/// ARGV[1] does. Returns the holder. A space's placement and the leader key alike.
pub const CLAIM_OR_KEEP: &str = r"
local holder = redis.call('GET', KEYS[1])
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return ARGV[1]
end
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return holder
";

/// Deletes each key that ARGV[1] holds, and only those; returns how many.
pub const RELEASE_HELD: &str = r"
local released = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('DEL', key)
    released = released + 1
  end
end
return released
";

pub fn node_key(node_id: &str) -> String {
    format!("{PREFIX}node:{node_id}")
}

/// The set of node ids that registered; each id's [`node_key`] says whether it is alive.
pub fn nodes_key() -> String {
    format!("{PREFIX}nodes")
}

pub fn placement_key(space_id: &str) -> String {
    format!("{PREFIX}space:{space_id}:node")
}

pub fn participants_key(space_id: &str) -> String {
    format!("{PREFIX}space:{space_id}:participants")
}

/// Names the node that runs the cluster-wide work (compositors, webhook deliveries).
pub fn leader_key() -> String {
    format!("{PREFIX}leader")
}

fn relay_secret_key() -> String {
    format!("{PREFIX}relay-secret")
}

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("Redis did not answer within {CALL_TIMEOUT:?}")]
    TimedOut,
    #[error("every node ordinal is taken")]
    Exhausted,
}

/// Runs one command with the deadline.
pub async fn query<T: FromRedisValue>(
    redis: &mut ConnectionManager,
    command: &Cmd,
) -> Result<T, CallError> {
    match tokio::time::timeout(CALL_TIMEOUT, command.query_async(redis)).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(CallError::TimedOut),
    }
}

/// Runs a Lua script atomically (Redis runs a script as one command).
pub async fn script<T: FromRedisValue>(
    redis: &mut ConnectionManager,
    source: &str,
    keys: &[String],
    args: &[String],
) -> Result<T, CallError> {
    let mut command = redis::cmd("EVAL");
    command.arg(source).arg(keys.len());
    for key in keys {
        command.arg(key.as_str());
    }
    for arg in args {
        command.arg(arg.as_str());
    }
    query(redis, &command).await
}

/// The cluster's relay secret: made by the first node to ask, read by the others.
pub async fn shared_secret(redis: &mut ConnectionManager) -> Result<String, CallError> {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let candidate: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let key = relay_secret_key();
    let _: Option<String> =
        query(redis, redis::cmd("SET").arg(&key).arg(&candidate).arg("NX")).await?;
    let secret: Option<String> = query(redis, redis::cmd("GET").arg(&key)).await?;
    Ok(secret.unwrap_or(candidate))
}
