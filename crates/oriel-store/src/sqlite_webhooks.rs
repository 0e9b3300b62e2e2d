//! The SQLite side of webhooks: endpoints, the outbox and its deliveries. Events are written by
//! the store methods that make the change they tell of, in the same transaction, so a change
//! is never kept without its event nor an event without its change.

use serde::Serialize;
use sqlx::{SqliteConnection, SqlitePool};

use crate::mux_json::{BroadcastView, LiveStreamView, SimulcastTargetView, SpaceView};
use crate::rows::{endpoint_from_row, EndpointRow, ENDPOINT_COLUMNS};
use crate::sqlite_broadcasts as broadcasts;
use crate::sqlite_live_streams as live_streams;
use crate::{
    new_uuid, DeliveryOutcome, DueDelivery, Page, StoreError, WebhookAttempt, WebhookDelivery,
    WebhookEndpoint, WebhookEvent,
};

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Events of an environment without endpoints are not written at all: nobody could get them.
async fn has_endpoints(
    conn: &mut SqliteConnection,
    environment_id: &str,
) -> Result<bool, StoreError> {
    let found: Option<(i64,)> =
        sqlx::query_as("SELECT 1 FROM webhook_endpoints WHERE environment_id = ? LIMIT 1")
            .bind(environment_id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(found.is_some())
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
    conn: &mut SqliteConnection,
    event: Event<'_>,
    data: &impl Serialize,
) -> Result<(), StoreError> {
    let data = serde_json::to_string(data)
        .map_err(|e| StoreError::Corrupt(format!("event data does not serialize: {e}")))?;
    let now = now_ms();
    let (seq,): (i64,) = sqlx::query_as(
        "INSERT INTO webhook_events (id, environment_id, type, object_type, object_id, data, \
         created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING seq",
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
         next_attempt_ms) SELECT ?, id, ?, 'pending', ? FROM webhook_endpoints \
         WHERE environment_id = ? ORDER BY seq",
    )
    .bind(seq)
    .bind(event.object_id)
    .bind(now)
    .bind(event.environment_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// `video.space.*`: the space as it is now in the transaction, broadcasts embedded.
pub async fn space_event(
    conn: &mut SqliteConnection,
    space_id: &str,
    event_type: &str,
) -> Result<(), StoreError> {
    let Some(space) = crate::sqlite::space_by_id(conn, space_id).await? else {
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
    conn: &mut SqliteConnection,
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
    conn: &mut SqliteConnection,
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
    conn: &mut SqliteConnection,
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
    pool: &SqlitePool,
    space_id: &str,
    event_type: &str,
    data: &serde_json::Value,
) -> Result<(), StoreError> {
    let mut transaction = crate::sqlite::begin_write(pool).await?;
    let environment: Option<(String,)> =
        sqlx::query_as("SELECT environment_id FROM spaces WHERE id = ?")
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

pub async fn insert_endpoint(
    pool: &SqlitePool,
    endpoint: &WebhookEndpoint,
) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "INSERT INTO webhook_endpoints ({ENDPOINT_COLUMNS}) VALUES (?, ?, ?, ?, ?)"
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
    pool: &SqlitePool,
    environment_id: &str,
    id: &str,
) -> Result<Option<WebhookEndpoint>, StoreError> {
    let row: Option<EndpointRow> = sqlx::query_as(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE environment_id = ? AND id = ?"
    ))
    .bind(environment_id)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(endpoint_from_row))
}

pub async fn list_endpoints(
    pool: &SqlitePool,
    environment_id: &str,
    page: Page,
) -> Result<Vec<WebhookEndpoint>, StoreError> {
    let rows: Vec<EndpointRow> = sqlx::query_as(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE environment_id = ? \
         ORDER BY seq DESC LIMIT ? OFFSET ?"
    ))
    .bind(environment_id)
    .bind(i64::from(page.limit))
    .bind(page.offset())
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(endpoint_from_row).collect())
}

pub async fn all_endpoints(pool: &SqlitePool) -> Result<Vec<WebhookEndpoint>, StoreError> {
    let rows: Vec<EndpointRow> = sqlx::query_as(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY seq"
    ))
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(endpoint_from_row).collect())
}

/// Deletes the endpoint with its deliveries.
pub async fn delete_endpoint(
    pool: &SqlitePool,
    environment_id: &str,
    id: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM webhook_endpoints WHERE environment_id = ? AND id = ?")
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
    i64,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    String,
    i64,
);

pub async fn due(
    pool: &SqlitePool,
    endpoint_id: &str,
    now_ms: i64,
    limit: u32,
) -> Result<Vec<DueDelivery>, StoreError> {
    let rows: Vec<DueRow> = sqlx::query_as(&format!(
        "SELECT d.seq, d.attempts, e.id, e.environment_id, env.name, e.type, e.object_type, \
         e.object_id, e.data, e.created_at_ms FROM webhook_deliveries d \
         JOIN webhook_events e ON e.seq = d.event_seq \
         LEFT JOIN environments env ON env.id = e.environment_id \
         WHERE d.endpoint_id = ? AND d.state = 'pending' AND d.next_attempt_ms <= ? \
         AND {HEAD_OF_OBJECT} ORDER BY d.event_seq LIMIT ?"
    ))
    .bind(endpoint_id)
    .bind(now_ms)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    let mut due = Vec::with_capacity(rows.len());
    for row in rows {
        let (seq, attempts, id, environment_id, name, event_type, object_type, object_id, data, at) =
            row;
        let attempts = if attempts > 0 {
            attempts_of(pool, seq).await?
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
    Ok(due)
}

/// When the endpoint's next delivery falls due, if it has one pending.
pub async fn next_due_ms(pool: &SqlitePool, endpoint_id: &str) -> Result<Option<i64>, StoreError> {
    let (next,): (Option<i64>,) = sqlx::query_as(&format!(
        "SELECT MIN(d.next_attempt_ms) FROM webhook_deliveries d \
         WHERE d.endpoint_id = ? AND d.state = 'pending' AND {HEAD_OF_OBJECT}"
    ))
    .bind(endpoint_id)
    .fetch_one(pool)
    .await?;
    Ok(next)
}

type AttemptRow = (
    String,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
    i64,
);

async fn attempts_of(
    pool: &SqlitePool,
    delivery_seq: i64,
) -> Result<Vec<WebhookAttempt>, StoreError> {
    let rows: Vec<AttemptRow> = sqlx::query_as(
        "SELECT id, address, status, response_body, error, created_at_ms FROM webhook_attempts \
         WHERE delivery_seq = ? ORDER BY seq",
    )
    .bind(delivery_seq)
    .fetch_all(pool)
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

/// Keeps an attempt and what it leads to, atomically.
pub async fn finish_attempt(
    pool: &SqlitePool,
    delivery_seq: i64,
    attempt: &WebhookAttempt,
    outcome: DeliveryOutcome,
) -> Result<(), StoreError> {
    let mut transaction = crate::sqlite::begin_write(pool).await?;
    sqlx::query(
        "INSERT INTO webhook_attempts (id, delivery_seq, address, status, response_body, error, \
         created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&attempt.id)
    .bind(delivery_seq)
    .bind(&attempt.address)
    .bind(attempt.status.map(i64::from))
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
        "UPDATE webhook_deliveries SET attempts = attempts + 1, state = ?, next_attempt_ms = ?, \
         last_status = ?, last_error = ?, last_attempt_ms = ? WHERE seq = ?",
    )
    .bind(state)
    .bind(next)
    .bind(attempt.status.map(i64::from))
    .bind(&attempt.error)
    .bind(attempt.created_at_ms)
    .bind(delivery_seq)
    .execute(&mut *transaction)
    .await?;
    transaction.commit().await?;
    Ok(())
}

type DeliveryRow = (
    i64,
    String,
    String,
    String,
    String,
    i64,
    Option<i64>,
    Option<String>,
    Option<i64>,
    i64,
    i64,
);

/// An endpoint's newest deliveries, newest first.
pub async fn deliveries(
    pool: &SqlitePool,
    environment_id: &str,
    endpoint_id: &str,
    limit: u32,
) -> Result<Vec<WebhookDelivery>, StoreError> {
    let rows: Vec<DeliveryRow> = sqlx::query_as(
        "SELECT d.seq, e.id, e.type, e.object_id, d.state, d.attempts, d.last_status, \
         d.last_error, d.last_attempt_ms, d.next_attempt_ms, e.created_at_ms \
         FROM webhook_deliveries d JOIN webhook_events e ON e.seq = d.event_seq \
         WHERE d.endpoint_id = ? AND d.endpoint_id IN \
         (SELECT id FROM webhook_endpoints WHERE environment_id = ?) \
         ORDER BY d.seq DESC LIMIT ?",
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
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
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
    pool: &SqlitePool,
    environment_id: &str,
    endpoint_id: &str,
    delivery_seq: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE webhook_deliveries SET state = 'pending', next_attempt_ms = ? \
         WHERE seq = ? AND endpoint_id = ? AND endpoint_id IN \
         (SELECT id FROM webhook_endpoints WHERE environment_id = ?)",
    )
    .bind(now_ms())
    .bind(delivery_seq)
    .bind(endpoint_id)
    .bind(environment_id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Forgets events older than `before_ms` that no delivery waits for; returns how many.
pub async fn prune(pool: &SqlitePool, before_ms: i64) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "DELETE FROM webhook_events WHERE created_at_ms < ? AND NOT EXISTS \
         (SELECT 1 FROM webhook_deliveries d WHERE d.event_seq = webhook_events.seq \
          AND d.state = 'pending')",
    )
    .bind(before_ms)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
