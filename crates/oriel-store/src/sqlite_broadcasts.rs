//! The SQLite side of broadcasts; `SqliteStore`'s `Store` methods delegate here. Every state
//! change is one statement or one transaction, so two API calls racing cannot break a rule
//! (one broadcast per space, start only while the space is active). Each change writes its
//! webhook events in its transaction.

use sqlx::{Sqlite, SqliteConnection, SqlitePool, Transaction};

use crate::rows::{
    broadcast_from_row as from_row, BroadcastRow as Row, BROADCAST_COLUMNS as COLUMNS,
};
use crate::sqlite_webhooks as webhooks;

use crate::{Broadcast, BroadcastChange, BroadcastDeletion, BroadcastInsert, StoreError};

pub async fn insert(
    pool: &SqlitePool,
    environment_id: &str,
    broadcast: &Broadcast,
    max_per_space: u32,
) -> Result<BroadcastInsert, StoreError> {
    let mut transaction = crate::sqlite::begin_write(pool).await?;
    let done = sqlx::query(&format!(
        "INSERT INTO broadcasts ({COLUMNS}) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ? \
         WHERE EXISTS (SELECT 1 FROM spaces WHERE id = ? AND environment_id = ?) \
         AND EXISTS (SELECT 1 FROM live_streams WHERE id = ? AND environment_id = ?) \
         AND (SELECT COUNT(*) FROM broadcasts WHERE space_id = ?) < ?"
    ))
    .bind(&broadcast.id)
    .bind(&broadcast.space_id)
    .bind(&broadcast.live_stream_id)
    .bind(if broadcast.active { "active" } else { "idle" })
    .bind(&broadcast.layout)
    .bind(&broadcast.resolution)
    .bind(&broadcast.background)
    .bind(&broadcast.passthrough)
    .bind(broadcast.created_at)
    .bind(&broadcast.space_id)
    .bind(environment_id)
    .bind(&broadcast.live_stream_id)
    .bind(environment_id)
    .bind(&broadcast.space_id)
    .bind(i64::from(max_per_space))
    .execute(&mut *transaction)
    .await?;
    if done.rows_affected() > 0 {
        webhooks::broadcast_event(
            &mut transaction,
            &broadcast.id,
            "video.space.broadcast.created",
        )
        .await?;
        webhooks::space_event(&mut transaction, &broadcast.space_id, "video.space.updated").await?;
        transaction.commit().await?;
        return Ok(BroadcastInsert::Inserted);
    }
    drop(transaction);
    // Refused: find out why, for the error message.
    let space: Option<(i64,)> =
        sqlx::query_as("SELECT 1 FROM spaces WHERE id = ? AND environment_id = ?")
            .bind(&broadcast.space_id)
            .bind(environment_id)
            .fetch_optional(pool)
            .await?;
    let stream: Option<(i64,)> =
        sqlx::query_as("SELECT 1 FROM live_streams WHERE id = ? AND environment_id = ?")
            .bind(&broadcast.live_stream_id)
            .bind(environment_id)
            .fetch_optional(pool)
            .await?;
    Ok(match (space, stream) {
        (None, _) => BroadcastInsert::SpaceNotFound,
        (_, None) => BroadcastInsert::LiveStreamNotFound,
        _ => BroadcastInsert::LimitReached,
    })
}

/// The broadcasts of a space, oldest first.
pub async fn of_space(
    conn: &mut SqliteConnection,
    space_id: &str,
) -> Result<Vec<Broadcast>, StoreError> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM broadcasts WHERE space_id = ? ORDER BY seq"
    ))
    .bind(space_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// A broadcast in any environment, with its space's environment id.
pub async fn by_id(
    conn: &mut SqliteConnection,
    id: &str,
) -> Result<Option<(Broadcast, String)>, StoreError> {
    let row: Option<Row> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM broadcasts WHERE id = ?"))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some(broadcast) = row.map(from_row) else {
        return Ok(None);
    };
    let environment: Option<(String,)> =
        sqlx::query_as("SELECT environment_id FROM spaces WHERE id = ?")
            .bind(&broadcast.space_id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(environment.map(|(environment_id,)| (broadcast, environment_id)))
}

/// A broadcast of a space of the environment.
async fn find(
    pool: &SqlitePool,
    environment_id: &str,
    space_id: &str,
    id: &str,
) -> Result<Option<Broadcast>, StoreError> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM broadcasts WHERE id = ? AND space_id = ? AND space_id IN \
         (SELECT id FROM spaces WHERE environment_id = ?)"
    ))
    .bind(id)
    .bind(space_id)
    .bind(environment_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(from_row))
}

pub async fn get(
    pool: &SqlitePool,
    environment_id: &str,
    space_id: &str,
    id: &str,
) -> Result<Option<Broadcast>, StoreError> {
    find(pool, environment_id, space_id, id).await
}

pub async fn delete(
    pool: &SqlitePool,
    environment_id: &str,
    space_id: &str,
    id: &str,
) -> Result<BroadcastDeletion, StoreError> {
    let mut transaction = crate::sqlite::begin_write(pool).await?;
    // Told as it was, before it is gone; rolled back with the transaction if it is not deleted.
    webhooks::broadcast_event(&mut transaction, id, "video.space.broadcast.deleted").await?;
    let done = sqlx::query(
        "DELETE FROM broadcasts WHERE id = ? AND space_id = ? AND status = 'idle' AND space_id IN \
         (SELECT id FROM spaces WHERE environment_id = ?)",
    )
    .bind(id)
    .bind(space_id)
    .bind(environment_id)
    .execute(&mut *transaction)
    .await?;
    if done.rows_affected() > 0 {
        webhooks::space_event(&mut transaction, space_id, "video.space.updated").await?;
        transaction.commit().await?;
        return Ok(BroadcastDeletion::Deleted);
    }
    drop(transaction);
    Ok(match find(pool, environment_id, space_id, id).await? {
        Some(_) => BroadcastDeletion::StillActive,
        None => BroadcastDeletion::NotFound,
    })
}

pub async fn start(
    pool: &SqlitePool,
    environment_id: &str,
    space_id: &str,
    id: &str,
) -> Result<BroadcastChange, StoreError> {
    let mut transaction = crate::sqlite::begin_write(pool).await?;
    let done = sqlx::query(
        "UPDATE broadcasts SET status = 'active' WHERE id = ? AND space_id = ? AND status = 'idle' \
         AND space_id IN (SELECT id FROM spaces WHERE environment_id = ? AND status = 'active') \
         AND live_stream_id IN \
             (SELECT id FROM live_streams WHERE environment_id = ? AND status != 'disabled')",
    )
    .bind(id)
    .bind(space_id)
    .bind(environment_id)
    .bind(environment_id)
    .execute(&mut *transaction)
    .await?;
    if done.rows_affected() > 0 {
        webhooks::broadcast_event(&mut transaction, id, "video.space.broadcast.active").await?;
        transaction.commit().await?;
        return Ok(BroadcastChange::Changed);
    }
    drop(transaction);
    let Some(broadcast) = find(pool, environment_id, space_id, id).await? else {
        return Ok(BroadcastChange::NotFound);
    };
    if broadcast.active {
        return Ok(BroadcastChange::Unchanged);
    }
    let space_active: Option<(i64,)> =
        sqlx::query_as("SELECT 1 FROM spaces WHERE id = ? AND status = 'active'")
            .bind(space_id)
            .fetch_optional(pool)
            .await?;
    Ok(if space_active.is_none() {
        BroadcastChange::SpaceIdle
    } else {
        BroadcastChange::LiveStreamUnavailable
    })
}

pub async fn stop(
    pool: &SqlitePool,
    environment_id: &str,
    space_id: &str,
    id: &str,
    now: i64,
) -> Result<BroadcastChange, StoreError> {
    let mut transaction = crate::sqlite::begin_write(pool).await?;
    let stopped = stop_where(
        &mut transaction,
        "id = ? AND space_id = ? AND space_id IN (SELECT id FROM spaces WHERE environment_id = ?)",
        &[id, space_id, environment_id],
        now,
    )
    .await?;
    transaction.commit().await?;
    if stopped > 0 {
        return Ok(BroadcastChange::Changed);
    }
    Ok(match find(pool, environment_id, space_id, id).await? {
        Some(_) => BroadcastChange::Unchanged,
        None => BroadcastChange::NotFound,
    })
}

/// Stops the active broadcasts matching `filter`: each goes idle, and its live stream goes idle
/// (unless disabled) with its recording completed at `now`. Returns how many stopped.
pub async fn stop_where(
    transaction: &mut Transaction<'_, Sqlite>,
    filter: &str,
    binds: &[&str],
    now: i64,
) -> Result<u64, StoreError> {
    let select =
        format!("SELECT id, live_stream_id FROM broadcasts WHERE status = 'active' AND {filter}");
    let mut query = sqlx::query_as::<_, (String, String)>(&select);
    for bind in binds {
        query = query.bind(*bind);
    }
    let active = query.fetch_all(&mut **transaction).await?;
    for (broadcast_id, live_stream_id) in &active {
        sqlx::query("UPDATE broadcasts SET status = 'idle' WHERE id = ?")
            .bind(broadcast_id)
            .execute(&mut **transaction)
            .await?;
        webhooks::broadcast_event(transaction, broadcast_id, "video.space.broadcast.idle").await?;
        let went_idle = sqlx::query(
            "UPDATE live_streams SET status = 'idle' WHERE id = ? AND status = 'active'",
        )
        .bind(live_stream_id)
        .execute(&mut **transaction)
        .await?;
        sqlx::query("UPDATE live_streams SET completed_at = ? WHERE id = ?")
            .bind(now)
            .bind(live_stream_id)
            .execute(&mut **transaction)
            .await?;
        if went_idle.rows_affected() > 0 {
            webhooks::live_stream_event(transaction, live_stream_id, "video.live_stream.idle")
                .await?;
        }
    }
    Ok(active.len() as u64)
}

pub async fn active(pool: &SqlitePool) -> Result<Vec<(Broadcast, String)>, StoreError> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM broadcasts WHERE status = 'active' ORDER BY seq"
    ))
    .fetch_all(pool)
    .await?;
    let mut active = Vec::with_capacity(rows.len());
    for row in rows {
        let broadcast = from_row(row);
        let environment: Option<(String,)> =
            sqlx::query_as("SELECT environment_id FROM spaces WHERE id = ?")
                .bind(&broadcast.space_id)
                .fetch_optional(pool)
                .await?;
        if let Some((environment_id,)) = environment {
            active.push((broadcast, environment_id));
        }
    }
    Ok(active)
}
