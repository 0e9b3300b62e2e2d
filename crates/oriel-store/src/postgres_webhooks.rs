//! The PostgreSQL side of webhooks: endpoints, the outbox and its deliveries. Events are
//! written by the store methods that make the change they tell of, in the same transaction, so
//! a change is never kept without its event nor an event without its change.
//!
//! Several nodes deliver from one database: a node's store claims the deliveries it hands its
//! dispatcher (`FOR UPDATE SKIP LOCKED`, then a claim with a lease), so no two nodes send the
//! same one at once, and one that died mid-attempt leaves its claims to lapse. Commits that
//! make something deliverable `NOTIFY` every node (see `postgres::listen_for_events`).

use serde::Serialize;
use sqlx::{PgConnection, PgPool};

use crate::mux_json::{BroadcastView, LiveStreamView, SimulcastTargetView, SpaceView};
use crate::postgres::{begin, begin_write, EVENTS_CHANNEL};
use crate::postgres_broadcasts as broadcasts;
use crate::postgres_live_streams as live_streams;
use crate::rows::{endpoint_from_row, EndpointRow, ENDPOINT_COLUMNS};
use crate::{
    new_uuid, DeliveryOutcome, DueDelivery, Page, StoreError, WebhookAttempt, WebhookDelivery,
    WebhookEndpoint, WebhookEvent,
};

/// How long a claim on a delivery holds: well past an attempt's own timeout (5 s), so only a
/// node that died (or lost the database) mid-attempt lets it lapse; another node then sends
/// it. A node that stops gracefully gives its claims up at once (`release_claims`).
const CLAIM_MS: i64 = 15_000;

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Tells every node, once this transaction commits, that deliveries may be due.
async fn notify(conn: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(EVENTS_CHANNEL)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Events of an environment without endpoints are not written at all: nobody could get them.
async fn has_endpoints(conn: &mut PgConnection, environment_id: &str) -> Result<bool, StoreError> {
    let (found,): (bool,) =
        sqlx::query_as("SELECT EXISTS (SELECT 1 FROM webhook_endpoints WHERE environment_id = $1)")
            .bind(environment_id)
            .fetch_one(&mut *conn)
            .await?;
    Ok(found)
}

/// What an event says happened, to which object.
struct Event<'a> {
    environment_id: &'a str,
    event_type: &'a str,
    object_type: &'a str,
    object_id: &'a str,
}

/// Writes the event and one pending delivery of it per endpoint of its environment.
async fn record(
    conn: &mut PgConnection,
    event: Event<'_>,
    data: &impl Serialize,
) -> Result<(), StoreError> {
    let data = serde_json::to_string(data)
        .map_err(|e| StoreError::Corrupt(format!("event data does not serialize: {e}")))?;
    let now = now_ms();
    let (seq,): (i64,) = sqlx::query_as(
        "INSERT INTO webhook_events (id, environment_id, type, object_type, object_id, data, \
         created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING seq",
    )
    .bind(new_uuid())
    .bind(event.environment_id)
    .bind(event.event_type)
    .bind(event.object_type)
    .bind(event.object_id)
    .bind(data)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO webhook_deliveries (event_seq, endpoint_id, object_id, state, \
         next_attempt_ms) SELECT $1, id, $2, 'pending', $3 FROM webhook_endpoints \
         WHERE environment_id = $4 ORDER BY seq",
    )
    .bind(seq)
    .bind(event.object_id)
    .bind(now)
    .bind(event.environment_id)
    .execute(&mut *conn)
    .await?;
    notify(conn).await
}

/// `video.space.*`: the space as it is now in the transaction, broadcasts embedded.
pub async fn space_event(
    conn: &mut PgConnection,
    space_id: &str,
    event_type: &str,
) -> Result<(), StoreError> {
    let Some(space) = crate::postgres::space_by_id(conn, space_id).await? else {
        return Ok(());
    };
    if !has_endpoints(conn, &space.environment_id).await? {
        return Ok(());
    }
    let environment_id = space.environment_id.clone();
    let broadcasts = broadcasts::of_space(conn, space_id).await?;
    let view = SpaceView::from(space).with_broadcasts(broadcasts);
    let event = Event {
        environment_id: &environment_id,
        event_type,
        object_type: "space",
        object_id: space_id,
    };
    record(conn, event, &view).await
}

/// `video.space.broadcast.*`: the broadcast as it is now in the transaction.
pub async fn broadcast_event(
    conn: &mut PgConnection,
    broadcast_id: &str,
    event_type: &str,
) -> Result<(), StoreError> {
    let Some((broadcast, environment_id)) = broadcasts::by_id(conn, broadcast_id).await? else {
        return Ok(());
    };
    if !has_endpoints(conn, &environment_id).await? {
        return Ok(());
    }
    let event = Event {
        environment_id: &environment_id,
        event_type,
        object_type: "broadcast",
        object_id: broadcast_id,
    };
    record(conn, event, &BroadcastView::from(broadcast)).await
}

/// `video.live_stream.*`: the live stream as it is now in the transaction.
pub async fn live_stream_event(
    conn: &mut PgConnection,
    live_stream_id: &str,
    event_type: &str,
) -> Result<(), StoreError> {
    let Some(stream) = live_streams::by_id(conn, live_stream_id).await? else {
        return Ok(());
    };
    if !has_endpoints(conn, &stream.environment_id).await? {
        return Ok(());
    }
    let environment_id = stream.environment_id.clone();
    let event = Event {
        environment_id: &environment_id,
        event_type,
        object_type: "live",
        object_id: live_stream_id,
    };
    record(conn, event, &LiveStreamView::from(stream)).await
}

/// A simulcast target's event data: the target, and the live stream it belongs to.
#[derive(Serialize)]
struct SimulcastTargetEvent {
    #[serde(flatten)]
    target: SimulcastTargetView,
    live_stream_id: String,
}

/// `video.live_stream.simulcast_target.*`, ordered with its live stream's events.
pub async fn simulcast_target_event(
    conn: &mut PgConnection,
    target_id: &str,
    event_type: &str,
) -> Result<(), StoreError> {
    let Some((target, live_stream_id, environment_id)) =
        live_streams::target_by_id(conn, target_id).await?
    else {
        return Ok(());
    };
    if !has_endpoints(conn, &environment_id).await? {
        return Ok(());
    }
    let event = Event {
        environment_id: &environment_id,
        event_type,
        object_type: "live",
        object_id: &live_stream_id,
    };
    let data = SimulcastTargetEvent {
        target: SimulcastTargetView::from(target),
        live_stream_id: live_stream_id.clone(),
    };
    record(conn, event, &data).await
}

/// `video.space.participant.*`: presence is not stored, so the caller hands in the data.
pub async fn participant_event(
    pool: &PgPool,
    space_id: &str,
    event_type: &str,
    data: &serde_json::Value,
) -> Result<(), StoreError> {
    let mut transaction = begin_write(pool).await?;
    let environment: Option<(String,)> =
        sqlx::query_as("SELECT environment_id FROM spaces WHERE id = $1")
            .bind(space_id)
            .fetch_optional(&mut *transaction)
            .await?;
    let Some((environment_id,)) = environment else {
        return Ok(());
    };
    if !has_endpoints(&mut transaction, &environment_id).await? {
        return Ok(());
    }
    let event = Event {
        environment_id: &environment_id,
        event_type,
        object_type: "space",
        object_id: space_id,
    };
    record(&mut transaction, event, data).await?;
    transaction.commit().await?;
    Ok(())
}

// ----- endpoints -----

pub async fn insert_endpoint(pool: &PgPool, endpoint: &WebhookEndpoint) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "INSERT INTO webhook_endpoints ({ENDPOINT_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"
    ))
    .bind(&endpoint.id)
    .bind(&endpoint.environment_id)
    .bind(&endpoint.url)
    .bind(&endpoint.signing_secret)
    .bind(endpoint.created_at)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn endpoint(
    pool: &PgPool,
    environment_id: &str,
    id: &str,
) -> Result<Option<WebhookEndpoint>, StoreError> {
    let row: Option<EndpointRow> = sqlx::query_as(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE environment_id = $1 AND id = $2"
    ))
    .bind(environment_id)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(endpoint_from_row))
}

pub async fn list_endpoints(
    pool: &PgPool,
    environment_id: &str,
    page: Page,
) -> Result<Vec<WebhookEndpoint>, StoreError> {
    let rows: Vec<EndpointRow> = sqlx::query_as(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE environment_id = $1 \
         ORDER BY seq DESC LIMIT $2 OFFSET $3"
    ))
    .bind(environment_id)
    .bind(i64::from(page.limit))
    .bind(page.offset())
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(endpoint_from_row).collect())
}

pub async fn all_endpoints(pool: &PgPool) -> Result<Vec<WebhookEndpoint>, StoreError> {
    let rows: Vec<EndpointRow> = sqlx::query_as(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY seq"
    ))
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(endpoint_from_row).collect())
}

/// Deletes the endpoint with its deliveries.
pub async fn delete_endpoint(
    pool: &PgPool,
    environment_id: &str,
    id: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM webhook_endpoints WHERE environment_id = $1 AND id = $2")
        .bind(environment_id)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

// ----- deliveries -----

/// Only the oldest pending delivery of each object is due, so one object's events arrive in
/// order; a retrying one holds back the events after it, not those of other objects.
const HEAD_OF_OBJECT: &str = "d.event_seq = (SELECT MIN(o.event_seq) FROM webhook_deliveries o \
     WHERE o.endpoint_id = d.endpoint_id AND o.state = 'pending' AND o.object_id = d.object_id)";

type DueRow = (
    i64,
    i32,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    String,
    i64,
);

/// The endpoint's due deliveries, claimed for `claimant`: those nobody else holds (their
/// claim lapsed, or they are `claimant`'s own, which it renews), oldest first.
pub async fn due(
    pool: &PgPool,
    claimant: &str,
    endpoint_id: &str,
    now_ms: i64,
    limit: u32,
) -> Result<Vec<DueDelivery>, StoreError> {
    let mut transaction = begin(pool).await?;
    // Rows another node is claiming right now are skipped, not waited for; the head-of-object
    // rule still sees them pending, so the next event of their object waits its turn.
    let rows: Vec<DueRow> = sqlx::query_as(&format!(
        "SELECT d.seq, d.attempts, e.id, e.environment_id, env.name, e.type, e.object_type, \
         e.object_id, e.data, e.created_at_ms FROM webhook_deliveries d \
         JOIN webhook_events e ON e.seq = d.event_seq \
         LEFT JOIN environments env ON env.id = e.environment_id \
         WHERE d.endpoint_id = $1 AND d.state = 'pending' AND d.next_attempt_ms <= $2 \
         AND (d.claimed_by IS NULL OR d.claimed_by = $3 OR d.claimed_until_ms <= $2) \
         AND {HEAD_OF_OBJECT} ORDER BY d.event_seq LIMIT $4 FOR UPDATE OF d SKIP LOCKED"
    ))
    .bind(endpoint_id)
    .bind(now_ms)
    .bind(claimant)
    .bind(i64::from(limit))
    .fetch_all(&mut *transaction)
    .await?;
    if rows.is_empty() {
        transaction.rollback().await?;
        return Ok(Vec::new());
    }
    let claimed: Vec<i64> = rows.iter().map(|row| row.0).collect();
    sqlx::query(
        "UPDATE webhook_deliveries SET claimed_by = $1, claimed_until_ms = $2 \
         WHERE seq = ANY($3)",
    )
    .bind(claimant)
    .bind(now_ms + CLAIM_MS)
    .bind(&claimed)
    .execute(&mut *transaction)
    .await?;
    let mut due = Vec::with_capacity(rows.len());
    for row in rows {
        let (seq, attempts, id, environment_id, name, event_type, object_type, object_id, data, at) =
            row;
        let attempts = if attempts > 0 {
            attempts_of(&mut transaction, seq).await?
        } else {
            Vec::new()
        };
        due.push(DueDelivery {
            delivery_seq: seq,
            event: WebhookEvent {
                id,
                environment_id,
                environment_name: name.unwrap_or_default(),
                event_type,
                object_type,
                object_id,
                data,
                created_at_ms: at,
            },
            attempts,
        });
    }
    transaction.commit().await?;
    Ok(due)
}

/// When the endpoint's next delivery falls due for `claimant`, if it has one pending: one that
/// another claims is due when that claim lapses, unless its attempt is kept first.
pub async fn next_due_ms(
    pool: &PgPool,
    claimant: &str,
    endpoint_id: &str,
) -> Result<Option<i64>, StoreError> {
    let (next,): (Option<i64>,) = sqlx::query_as(&format!(
        "SELECT MIN(CASE WHEN d.claimed_by IS NULL OR d.claimed_by = $2 THEN d.next_attempt_ms \
         ELSE GREATEST(d.next_attempt_ms, d.claimed_until_ms) END) \
         FROM webhook_deliveries d \
         WHERE d.endpoint_id = $1 AND d.state = 'pending' AND {HEAD_OF_OBJECT}"
    ))
    .bind(endpoint_id)
    .bind(claimant)
    .fetch_one(pool)
    .await?;
    Ok(next)
}

type AttemptRow = (
    String,
    String,
    Option<i32>,
    Option<String>,
    Option<String>,
    i64,
);

async fn attempts_of(
    conn: &mut PgConnection,
    delivery_seq: i64,
) -> Result<Vec<WebhookAttempt>, StoreError> {
    let rows: Vec<AttemptRow> = sqlx::query_as(
        "SELECT id, address, status, response_body, error, created_at_ms FROM webhook_attempts \
         WHERE delivery_seq = $1 ORDER BY seq",
    )
    .bind(delivery_seq)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, address, status, response_body, error, created_at_ms)| WebhookAttempt {
                id,
                address,
                status: status.and_then(|s| u16::try_from(s).ok()),
                response_body,
                error,
                created_at_ms,
            },
        )
        .collect())
}

/// Keeps an attempt and what it leads to, atomically, and gives up the claim on it.
pub async fn finish_attempt(
    pool: &PgPool,
    delivery_seq: i64,
    attempt: &WebhookAttempt,
    outcome: DeliveryOutcome,
) -> Result<(), StoreError> {
    let mut transaction = begin(pool).await?;
    sqlx::query(
        "INSERT INTO webhook_attempts (id, delivery_seq, address, status, response_body, error, \
         created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&attempt.id)
    .bind(delivery_seq)
    .bind(&attempt.address)
    .bind(attempt.status.map(i32::from))
    .bind(&attempt.response_body)
    .bind(&attempt.error)
    .bind(attempt.created_at_ms)
    .execute(&mut *transaction)
    .await?;
    let (state, next) = match outcome {
        DeliveryOutcome::Delivered => ("delivered", attempt.created_at_ms),
        DeliveryOutcome::RetryAt(at) => ("pending", at),
        DeliveryOutcome::GaveUp => ("failed", attempt.created_at_ms),
    };
    sqlx::query(
        "UPDATE webhook_deliveries SET attempts = attempts + 1, state = $1, \
         next_attempt_ms = $2, last_status = $3, last_error = $4, last_attempt_ms = $5, \
         claimed_by = NULL, claimed_until_ms = NULL WHERE seq = $6",
    )
    .bind(state)
    .bind(next)
    .bind(attempt.status.map(i32::from))
    .bind(&attempt.error)
    .bind(attempt.created_at_ms)
    .bind(delivery_seq)
    .execute(&mut *transaction)
    .await?;
    // The object's next event (or this retry) is now the one to send, perhaps by another node.
    notify(&mut transaction).await?;
    transaction.commit().await?;
    Ok(())
}

/// Gives up the claims of `claimant` whose attempts will not be finished (it is stopping), so
/// that other nodes, or this node's successor, send them without waiting for the claims to
/// lapse.
pub async fn release_claims(pool: &PgPool, claimant: &str) -> Result<u64, StoreError> {
    let mut transaction = begin(pool).await?;
    let done = sqlx::query(
        "UPDATE webhook_deliveries SET claimed_by = NULL, claimed_until_ms = NULL \
         WHERE claimed_by = $1",
    )
    .bind(claimant)
    .execute(&mut *transaction)
    .await?;
    if done.rows_affected() > 0 {
        notify(&mut transaction).await?;
    }
    transaction.commit().await?;
    Ok(done.rows_affected())
}

type DeliveryRow = (
    i64,
    String,
    String,
    String,
    String,
    i32,
    Option<i32>,
    Option<String>,
    Option<i64>,
    i64,
    i64,
);

/// An endpoint's newest deliveries, newest first.
pub async fn deliveries(
    pool: &PgPool,
    environment_id: &str,
    endpoint_id: &str,
    limit: u32,
) -> Result<Vec<WebhookDelivery>, StoreError> {
    let rows: Vec<DeliveryRow> = sqlx::query_as(
        "SELECT d.seq, e.id, e.type, e.object_id, d.state, d.attempts, d.last_status, \
         d.last_error, d.last_attempt_ms, d.next_attempt_ms, e.created_at_ms \
         FROM webhook_deliveries d JOIN webhook_events e ON e.seq = d.event_seq \
         WHERE d.endpoint_id = $1 AND d.endpoint_id IN \
         (SELECT id FROM webhook_endpoints WHERE environment_id = $2) \
         ORDER BY d.seq DESC LIMIT $3",
    )
    .bind(endpoint_id)
    .bind(environment_id)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let (
                id,
                event_id,
                event_type,
                object_id,
                state,
                attempts,
                status,
                error,
                last,
                next,
                at,
            ) = row;
            WebhookDelivery {
                id,
                event_id,
                event_type,
                object_id,
                state,
                attempts: u32::try_from(attempts).unwrap_or(0),
                last_status: status.and_then(|s| u16::try_from(s).ok()),
                last_error: error,
                last_attempt_ms: last,
                next_attempt_ms: next,
                created_at_ms: at,
            }
        })
        .collect())
}

/// Queues a delivery of an endpoint of the environment again, now; false when there is none.
pub async fn resend(
    pool: &PgPool,
    environment_id: &str,
    endpoint_id: &str,
    delivery_seq: i64,
) -> Result<bool, StoreError> {
    let mut transaction = begin(pool).await?;
    let done = sqlx::query(
        "UPDATE webhook_deliveries SET state = 'pending', next_attempt_ms = $1 \
         WHERE seq = $2 AND endpoint_id = $3 AND endpoint_id IN \
         (SELECT id FROM webhook_endpoints WHERE environment_id = $4)",
    )
    .bind(now_ms())
    .bind(delivery_seq)
    .bind(endpoint_id)
    .bind(environment_id)
    .execute(&mut *transaction)
    .await?;
    if done.rows_affected() == 0 {
        transaction.rollback().await?;
        return Ok(false);
    }
    notify(&mut transaction).await?;
    transaction.commit().await?;
    Ok(true)
}

/// Forgets events older than `before_ms` that no delivery waits for; returns how many.
pub async fn prune(pool: &PgPool, before_ms: i64) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "DELETE FROM webhook_events WHERE created_at_ms < $1 AND NOT EXISTS \
         (SELECT 1 FROM webhook_deliveries d WHERE d.event_seq = webhook_events.seq \
          AND d.state = 'pending')",
    )
    .bind(before_ms)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
