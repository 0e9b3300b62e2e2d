//! The PostgreSQL side of live streams; `PostgresStore`'s `Store` methods delegate here. Each
//! change writes its webhook events in its transaction.

use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use crate::postgres::begin_write;
use crate::postgres_webhooks as webhooks;
use crate::rows::{
    live_stream_from_row as from_row, target_from_row, LiveStreamRow as Row, TargetRow,
    LIVE_STREAM_COLUMNS as COLUMNS, TARGET_COLUMNS,
};
use crate::{LiveStream, LiveStreamStatus, Page, PlaybackId, SimulcastTarget, StoreError};

/// Fills in a stream's playback ids and simulcast targets.
async fn with_children(
    conn: &mut PgConnection,
    mut stream: LiveStream,
) -> Result<LiveStream, StoreError> {
    let ids: Vec<(String, String)> = sqlx::query_as(
        "SELECT id, policy FROM live_stream_playback_ids WHERE live_stream_id = $1 ORDER BY seq",
    )
    .bind(&stream.id)
    .fetch_all(&mut *conn)
    .await?;
    stream.playback_ids = ids
        .into_iter()
        .map(|(id, policy)| PlaybackId { id, policy })
        .collect();
    let targets: Vec<TargetRow> = sqlx::query_as(&format!(
        "SELECT {TARGET_COLUMNS} FROM live_stream_simulcast_targets \
         WHERE live_stream_id = $1 ORDER BY seq"
    ))
    .bind(&stream.id)
    .fetch_all(&mut *conn)
    .await?;
    stream.simulcast_targets = targets.into_iter().map(target_from_row).collect();
    Ok(stream)
}

pub async fn insert(pool: &PgPool, stream: &LiveStream) -> Result<(), StoreError> {
    let mut transaction = begin_write(pool).await?;
    sqlx::query(&format!(
        "INSERT INTO live_streams ({COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    ))
    .bind(&stream.id)
    .bind(&stream.environment_id)
    .bind(&stream.stream_key)
    .bind(stream.status.as_str())
    .bind(&stream.passthrough)
    .bind(&stream.latency_mode)
    .bind(stream.reconnect_window)
    .bind(stream.max_continuous_duration)
    .bind(stream.test)
    .bind(&stream.new_asset_settings)
    .bind(stream.created_at)
    .bind(stream.completed_at)
    .execute(&mut *transaction)
    .await?;
    for playback_id in &stream.playback_ids {
        insert_playback_id_row(&mut transaction, &stream.id, playback_id).await?;
    }
    for target in &stream.simulcast_targets {
        insert_target_row(&mut transaction, &stream.id, target).await?;
    }
    webhooks::live_stream_event(&mut transaction, &stream.id, "video.live_stream.created").await?;
    for target in &stream.simulcast_targets {
        let created = "video.live_stream.simulcast_target.created";
        webhooks::simulcast_target_event(&mut transaction, &target.id, created).await?;
    }
    transaction.commit().await?;
    Ok(())
}

/// A live stream in any environment.
pub async fn by_id(conn: &mut PgConnection, id: &str) -> Result<Option<LiveStream>, StoreError> {
    let row: Option<Row> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM live_streams WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    match row {
        Some(row) => Ok(Some(with_children(conn, from_row(row)?).await?)),
        None => Ok(None),
    }
}

/// A target's columns, then its live stream's id and environment id.
type TargetWithStreamRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    String,
);

/// A simulcast target with its live stream's id and environment id.
pub async fn target_by_id(
    conn: &mut PgConnection,
    id: &str,
) -> Result<Option<(SimulcastTarget, String, String)>, StoreError> {
    let row: Option<TargetWithStreamRow> = sqlx::query_as(
        "SELECT t.id, t.url, t.stream_key, t.passthrough, t.status, s.id, s.environment_id \
         FROM live_stream_simulcast_targets t JOIN live_streams s ON s.id = t.live_stream_id \
         WHERE t.id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(
        |(id, url, stream_key, passthrough, status, live_stream_id, environment_id)| {
            let target = target_from_row((id, url, stream_key, passthrough, status));
            (target, live_stream_id, environment_id)
        },
    ))
}

async fn insert_playback_id_row(
    transaction: &mut Transaction<'_, Postgres>,
    live_stream_id: &str,
    playback_id: &PlaybackId,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO live_stream_playback_ids (id, live_stream_id, policy) VALUES ($1, $2, $3)",
    )
    .bind(&playback_id.id)
    .bind(live_stream_id)
    .bind(&playback_id.policy)
    .execute(&mut **transaction)
    .await?;
    Ok(())
}

async fn insert_target_row(
    transaction: &mut Transaction<'_, Postgres>,
    live_stream_id: &str,
    target: &SimulcastTarget,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO live_stream_simulcast_targets \
         (id, live_stream_id, url, stream_key, passthrough, status) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&target.id)
    .bind(live_stream_id)
    .bind(&target.url)
    .bind(&target.stream_key)
    .bind(&target.passthrough)
    .bind(&target.status)
    .execute(&mut **transaction)
    .await?;
    Ok(())
}

pub async fn get(
    pool: &PgPool,
    environment_id: &str,
    id: &str,
) -> Result<Option<LiveStream>, StoreError> {
    let mut conn = pool.acquire().await?;
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM live_streams WHERE environment_id = $1 AND id = $2"
    ))
    .bind(environment_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some(row) => Ok(Some(with_children(&mut conn, from_row(row)?).await?)),
        None => Ok(None),
    }
}

pub async fn list(
    pool: &PgPool,
    environment_id: &str,
    status: Option<LiveStreamStatus>,
    page: Page,
) -> Result<Vec<LiveStream>, StoreError> {
    let mut conn = pool.acquire().await?;
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM live_streams WHERE environment_id = $1 \
         AND ($2::TEXT IS NULL OR status = $2) ORDER BY seq DESC LIMIT $3 OFFSET $4"
    ))
    .bind(environment_id)
    .bind(status.map(LiveStreamStatus::as_str))
    .bind(i64::from(page.limit))
    .bind(page.offset())
    .fetch_all(&mut *conn)
    .await?;
    let mut streams = Vec::with_capacity(rows.len());
    for row in rows {
        streams.push(with_children(&mut conn, from_row(row)?).await?);
    }
    Ok(streams)
}

/// Writes a stream's own fields; the event tells what changed: `disabled`, `enabled`, or
/// `updated` for anything else (a new stream key, completion).
pub async fn update(pool: &PgPool, stream: &LiveStream) -> Result<bool, StoreError> {
    let mut transaction = begin_write(pool).await?;
    let before: Option<(String,)> =
        sqlx::query_as("SELECT status FROM live_streams WHERE environment_id = $1 AND id = $2")
            .bind(&stream.environment_id)
            .bind(&stream.id)
            .fetch_optional(&mut *transaction)
            .await?;
    let Some((before,)) = before else {
        return Ok(false);
    };
    let done = sqlx::query(
        "UPDATE live_streams SET stream_key = $1, status = $2, passthrough = $3, \
         latency_mode = $4, reconnect_window = $5, max_continuous_duration = $6, \
         completed_at = $7 WHERE environment_id = $8 AND id = $9",
    )
    .bind(&stream.stream_key)
    .bind(stream.status.as_str())
    .bind(&stream.passthrough)
    .bind(&stream.latency_mode)
    .bind(stream.reconnect_window)
    .bind(stream.max_continuous_duration)
    .bind(stream.completed_at)
    .bind(&stream.environment_id)
    .bind(&stream.id)
    .execute(&mut *transaction)
    .await?;
    let disabled = stream.status == LiveStreamStatus::Disabled;
    let event = match (before == "disabled", disabled) {
        (false, true) => "video.live_stream.disabled",
        (true, false) => "video.live_stream.enabled",
        _ => "video.live_stream.updated",
    };
    webhooks::live_stream_event(&mut transaction, &stream.id, event).await?;
    transaction.commit().await?;
    Ok(done.rows_affected() > 0)
}

pub async fn delete(pool: &PgPool, environment_id: &str, id: &str) -> Result<bool, StoreError> {
    let Some(mut transaction) = owned(pool, environment_id, id).await? else {
        return Ok(false);
    };
    webhooks::live_stream_event(&mut transaction, id, "video.live_stream.deleted").await?;
    sqlx::query("DELETE FROM live_streams WHERE id = $1")
        .bind(id)
        .execute(&mut *transaction)
        .await?;
    transaction.commit().await?;
    Ok(true)
}

/// Opens a write transaction in which the live stream is known to exist in the environment.
async fn owned(
    pool: &PgPool,
    environment_id: &str,
    live_stream_id: &str,
) -> Result<Option<Transaction<'static, Postgres>>, StoreError> {
    let mut transaction = begin_write(pool).await?;
    let (found,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM live_streams WHERE environment_id = $1 AND id = $2)",
    )
    .bind(environment_id)
    .bind(live_stream_id)
    .fetch_one(&mut *transaction)
    .await?;
    Ok(found.then_some(transaction))
}

pub async fn insert_playback_id(
    pool: &PgPool,
    environment_id: &str,
    live_stream_id: &str,
    playback_id: &PlaybackId,
) -> Result<bool, StoreError> {
    let Some(mut transaction) = owned(pool, environment_id, live_stream_id).await? else {
        return Ok(false);
    };
    insert_playback_id_row(&mut transaction, live_stream_id, playback_id).await?;
    transaction.commit().await?;
    Ok(true)
}

pub async fn insert_simulcast_target(
    pool: &PgPool,
    environment_id: &str,
    live_stream_id: &str,
    target: &SimulcastTarget,
) -> Result<bool, StoreError> {
    let Some(mut transaction) = owned(pool, environment_id, live_stream_id).await? else {
        return Ok(false);
    };
    insert_target_row(&mut transaction, live_stream_id, target).await?;
    let created = "video.live_stream.simulcast_target.created";
    webhooks::simulcast_target_event(&mut transaction, &target.id, created).await?;
    transaction.commit().await?;
    Ok(true)
}

/// Deletes a playback id or simulcast target (`table`) of a stream of the environment.
pub async fn delete_child(
    pool: &PgPool,
    table: ChildTable,
    environment_id: &str,
    live_stream_id: &str,
    id: &str,
) -> Result<bool, StoreError> {
    let mut transaction = begin_write(pool).await?;
    let table = match table {
        ChildTable::PlaybackIds => "live_stream_playback_ids",
        ChildTable::SimulcastTargets => {
            // Told as it was; rolled back with the transaction if nothing is deleted.
            let deleted = "video.live_stream.simulcast_target.deleted";
            webhooks::simulcast_target_event(&mut transaction, id, deleted).await?;
            "live_stream_simulcast_targets"
        }
    };
    let done = sqlx::query(&format!(
        "DELETE FROM {table} WHERE id = $1 AND live_stream_id = $2 AND live_stream_id IN \
         (SELECT id FROM live_streams WHERE environment_id = $3)"
    ))
    .bind(id)
    .bind(live_stream_id)
    .bind(environment_id)
    .execute(&mut *transaction)
    .await?;
    if done.rows_affected() == 0 {
        transaction.rollback().await?;
        return Ok(false);
    }
    transaction.commit().await?;
    Ok(true)
}

#[derive(Clone, Copy)]
pub enum ChildTable {
    PlaybackIds,
    SimulcastTargets,
}

pub async fn by_playback_id(
    pool: &PgPool,
    playback_id: &str,
) -> Result<Option<(LiveStream, PlaybackId)>, StoreError> {
    let found: Option<(String, String, String)> = sqlx::query_as(
        "SELECT p.policy, s.environment_id, s.id FROM live_stream_playback_ids p \
         JOIN live_streams s ON s.id = p.live_stream_id WHERE p.id = $1",
    )
    .bind(playback_id)
    .fetch_optional(pool)
    .await?;
    let Some((policy, environment_id, id)) = found else {
        return Ok(None);
    };
    Ok(get(pool, &environment_id, &id).await?.map(|stream| {
        let playback_id = PlaybackId {
            id: playback_id.to_owned(),
            policy,
        };
        (stream, playback_id)
    }))
}

pub async fn set_media_status(
    pool: &PgPool,
    id: &str,
    status: LiveStreamStatus,
) -> Result<bool, StoreError> {
    let mut transaction = begin_write(pool).await?;
    let done = sqlx::query(
        "UPDATE live_streams SET status = $1 \
         WHERE id = $2 AND status != 'disabled' AND status != $1",
    )
    .bind(status.as_str())
    .bind(id)
    .execute(&mut *transaction)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    let event = format!("video.live_stream.{}", status.as_str());
    webhooks::live_stream_event(&mut transaction, id, &event).await?;
    transaction.commit().await?;
    Ok(true)
}

pub async fn set_target_status(
    pool: &PgPool,
    target_id: &str,
    status: &str,
) -> Result<(), StoreError> {
    let mut transaction = begin_write(pool).await?;
    let done = sqlx::query(
        "UPDATE live_stream_simulcast_targets SET status = $1 WHERE id = $2 AND status != $1",
    )
    .bind(status)
    .bind(target_id)
    .execute(&mut *transaction)
    .await?;
    if done.rows_affected() > 0 {
        let event = format!("video.live_stream.simulcast_target.{status}");
        webhooks::simulcast_target_event(&mut transaction, target_id, &event).await?;
        transaction.commit().await?;
    }
    Ok(())
}
