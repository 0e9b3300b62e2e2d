//! The PostgreSQL side of broadcasts; `PostgresStore`'s `Store` methods delegate here. Every
//! state change is one write transaction (see `postgres::begin_write`), so two API calls
//! racing, on one node or on two, cannot break a rule (one broadcast per space, start only
//! while the space is active). Each change writes its webhook events in its transaction.

use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use crate::postgres::begin_write;
use crate::postgres_webhooks as webhooks;
use crate::rows::{
    broadcast_from_row as from_row, BroadcastRow as Row, BROADCAST_COLUMNS as COLUMNS,
};
use crate::{Broadcast, BroadcastChange, BroadcastDeletion, BroadcastInsert, StoreError};

pub async fn insert(
    pool: &PgPool,
    environment_id: &str,
    broadcast: &Broadcast,
    max_per_space: u32,
) -> Result<BroadcastInsert, StoreError> {
    let mut transaction = begin_write(pool).await?;
    let done = sqlx::query(&format!(
        "INSERT INTO broadcasts ({COLUMNS}) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 \
         WHERE EXISTS (SELECT 1 FROM spaces WHERE id = $2 AND environment_id = $10) \
         AND EXISTS (SELECT 1 FROM live_streams WHERE id = $3 AND environment_id = $10) \
         AND (SELECT COUNT(*) FROM broadcasts WHERE space_id = $2) < $11"
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
    .bind(environment_id)
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
    // Refused: find out why, for the error message (still under the lock, so the answer is
    // the reason it was refused).
    let (space, stream): (bool, bool) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM spaces WHERE id = $1 AND environment_id = $3), \
         EXISTS (SELECT 1 FROM live_streams WHERE id = $2 AND environment_id = $3)",
    )
    .bind(&broadcast.space_id)
    .bind(&broadcast.live_stream_id)
    .bind(environment_id)
    .fetch_one(&mut *transaction)
    .await?;
    transaction.rollback().await?;
    Ok(match (space, stream) {
        (false, _) => BroadcastInsert::SpaceNotFound,
        (_, false) => BroadcastInsert::LiveStreamNotFound,
        _ => BroadcastInsert::LimitReached,
    })
}

/// The broadcasts of a space, oldest first.
pub async fn of_space(
    conn: &mut PgConnection,
    space_id: &str,
) -> Result<Vec<Broadcast>, StoreError> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM broadcasts WHERE space_id = $1 ORDER BY seq"
    ))
    .bind(space_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// A broadcast in any environment, with its space's environment id.
pub async fn by_id(
    conn: &mut PgConnection,
    id: &str,
) -> Result<Option<(Broadcast, String)>, StoreError> {
    let row: Option<Row> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM broadcasts WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some(broadcast) = row.map(from_row) else {
        return Ok(None);
    };
    let environment: Option<(String,)> =
        sqlx::query_as("SELECT environment_id FROM spaces WHERE id = $1")
            .bind(&broadcast.space_id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(environment.map(|(environment_id,)| (broadcast, environment_id)))
}

/// A broadcast of a space of the environment.
async fn find(
    conn: &mut PgConnection,
    environment_id: &str,
    space_id: &str,
    id: &str,
) -> Result<Option<Broadcast>, StoreError> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM broadcasts WHERE id = $1 AND space_id = $2 AND space_id IN \
         (SELECT id FROM spaces WHERE environment_id = $3)"
    ))
    .bind(id)
    .bind(space_id)
    .bind(environment_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(from_row))
}

pub async fn get(
    pool: &PgPool,
    environment_id: &str,
    space_id: &str,
    id: &str,
) -> Result<Option<Broadcast>, StoreError> {
    find(&mut *pool.acquire().await?, environment_id, space_id, id).await
}

pub async fn delete(
    pool: &PgPool,
    environment_id: &str,
    space_id: &str,
    id: &str,
) -> Result<BroadcastDeletion, StoreError> {
    let mut transaction = begin_write(pool).await?;
    // Told as it was, before it is gone; rolled back with the transaction if it is not deleted.
    webhooks::broadcast_event(&mut transaction, id, "video.space.broadcast.deleted").await?;
    let done = sqlx::query(
        "DELETE FROM broadcasts WHERE id = $1 AND space_id = $2 AND status = 'idle' \
         AND space_id IN (SELECT id FROM spaces WHERE environment_id = $3)",
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
    transaction.rollback().await?;
    Ok(
        match find(&mut *pool.acquire().await?, environment_id, space_id, id).await? {
            Some(_) => BroadcastDeletion::StillActive,
            None => BroadcastDeletion::NotFound,
        },
    )
}

pub async fn start(
    pool: &PgPool,
    environment_id: &str,
    space_id: &str,
    id: &str,
) -> Result<BroadcastChange, StoreError> {
    let mut transaction = begin_write(pool).await?;
    let done = sqlx::query(
        "UPDATE broadcasts SET status = 'active' \
         WHERE id = $1 AND space_id = $2 AND status = 'idle' \
         AND space_id IN (SELECT id FROM spaces WHERE environment_id = $3 AND status = 'active') \
         AND live_stream_id IN \
             (SELECT id FROM live_streams WHERE environment_id = $3 AND status != 'disabled')",
    )
    .bind(id)
    .bind(space_id)
    .bind(environment_id)
    .execute(&mut *transaction)
    .await?;
    if done.rows_affected() > 0 {
        webhooks::broadcast_event(&mut transaction, id, "video.space.broadcast.active").await?;
        transaction.commit().await?;
        return Ok(BroadcastChange::Changed);
    }
    // Refused: find out why while still under the lock.
    let Some(broadcast) = find(&mut transaction, environment_id, space_id, id).await? else {
        return Ok(BroadcastChange::NotFound);
    };
    if broadcast.active {
        return Ok(BroadcastChange::Unchanged);
    }
    let (space_active,): (bool,) =
        sqlx::query_as("SELECT EXISTS (SELECT 1 FROM spaces WHERE id = $1 AND status = 'active')")
            .bind(space_id)
            .fetch_one(&mut *transaction)
            .await?;
    Ok(if space_active {
        BroadcastChange::LiveStreamUnavailable
    } else {
        BroadcastChange::SpaceIdle
    })
}

pub async fn stop(
    pool: &PgPool,
    environment_id: &str,
    space_id: &str,
    id: &str,
    now: i64,
) -> Result<BroadcastChange, StoreError> {
    let mut transaction = begin_write(pool).await?;
    let stopped = stop_where(
        &mut transaction,
        "id = $1 AND space_id = $2 AND space_id IN (SELECT id FROM spaces WHERE environment_id = $3)",
        &[id, space_id, environment_id],
        now,
    )
    .await?;
    if stopped > 0 {
        transaction.commit().await?;
        return Ok(BroadcastChange::Changed);
    }
    let found = find(&mut transaction, environment_id, space_id, id).await?;
    transaction.rollback().await?;
    Ok(match found {
        Some(_) => BroadcastChange::Unchanged,
        None => BroadcastChange::NotFound,
    })
}

/// Stops the active broadcasts matching `filter` (whose parameters `$1`.. are `binds`): each
/// goes idle, and its live stream goes idle (unless disabled) with its recording completed at
/// `now`. Returns how many stopped.
pub async fn stop_where(
    transaction: &mut Transaction<'_, Postgres>,
    filter: &str,
    binds: &[&str],
    now: i64,
) -> Result<u64, StoreError> {
    let select = format!(
        "SELECT id, live_stream_id FROM broadcasts WHERE status = 'active' AND {filter} \
         ORDER BY seq"
    );
    let mut query = sqlx::query_as::<_, (String, String)>(&select);
    for bind in binds {
        query = query.bind(*bind);
    }
    let active = query.fetch_all(&mut **transaction).await?;
    for (broadcast_id, live_stream_id) in &active {
        sqlx::query("UPDATE broadcasts SET status = 'idle' WHERE id = $1")
            .bind(broadcast_id)
            .execute(&mut **transaction)
            .await?;
        webhooks::broadcast_event(transaction, broadcast_id, "video.space.broadcast.idle").await?;
        let went_idle = sqlx::query(
            "UPDATE live_streams SET status = 'idle' WHERE id = $1 AND status = 'active'",
        )
        .bind(live_stream_id)
        .execute(&mut **transaction)
        .await?;
        sqlx::query("UPDATE live_streams SET completed_at = $1 WHERE id = $2")
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

/// Every active broadcast with its space's environment id.
pub async fn active(pool: &PgPool) -> Result<Vec<(Broadcast, String)>, StoreError> {
    type ActiveRow = (
        String,
        String,
        String,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        i64,
        String,
    );
    let rows: Vec<ActiveRow> = sqlx::query_as(
        "SELECT b.id, b.space_id, b.live_stream_id, b.status, b.layout, b.resolution, \
         b.background, b.passthrough, b.created_at, s.environment_id \
         FROM broadcasts b JOIN spaces s ON s.id = b.space_id \
         WHERE b.status = 'active' ORDER BY b.seq",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let (id, space, stream, status, layout, resolution, background, passthrough, at, env) =
                row;
            let row = (
                id,
                space,
                stream,
                status,
                layout,
                resolution,
                background,
                passthrough,
                at,
            );
            (from_row(row), env)
        })
        .collect())
}
