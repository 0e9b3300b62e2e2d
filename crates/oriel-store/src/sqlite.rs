use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{SqliteConnection, SqlitePool};
use tokio::sync::watch;

use crate::rows::{
    access_token_from_row, is_unique_violation, signing_key_from_row, space_from_row, unix_now,
    user_from_row, AccessTokenRow, SigningKeyRow, SpaceRow, UserRow, ACCESS_TOKEN_COLUMNS,
    SIGNING_KEY_COLUMNS, SPACE_COLUMNS,
};
use crate::sqlite_broadcasts as broadcasts;
use crate::sqlite_live_streams::{self as live_streams, ChildTable};
use crate::sqlite_webhooks as webhooks;
use crate::{
    AccessToken, Broadcast, BroadcastChange, BroadcastDeletion, BroadcastInsert, CallRating,
    DashboardJoinKey, DashboardSession, DashboardUser, DeliveryOutcome, DueDelivery, Environment,
    LiveStream, LiveStreamStatus, Page, PlaybackId, SigningKey, SimulcastTarget, Space,
    SpaceDeletion, Store, StoreError, WebhookAttempt, WebhookDelivery, WebhookEndpoint,
};

/// File name of the database inside the data directory.
const DATABASE_FILE: &str = "oriel.db";

/// The embedded store: one SQLite file in write-ahead-log mode, so the CLI and a running server
/// can use the same data directory at once.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Bumped after each change that may have written webhook events.
    events_written: std::sync::Arc<watch::Sender<u64>>,
}

impl SqliteStore {
    /// Opens (creating when missing) the database under `data_dir` and migrates it.
    pub async fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.display().to_string(),
            source,
        })?;
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(data_dir.join(DATABASE_FILE))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // The CLI may write while the server does; wait for the lock rather than fail.
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Self {
            pool,
            events_written: std::sync::Arc::new(watch::channel(0).0),
        })
    }

    /// Wakes the webhook dispatcher after a change that may have written events.
    fn wrote_events(&self) {
        self.events_written.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Closes the pool, checkpointing the write-ahead log.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The pool, for tests that look at the tables themselves.
    #[cfg(test)]
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// A transaction that takes the write lock at once. A deferred one that reads first and then
/// writes fails with "database is locked" (without waiting) when another connection wrote in
/// between; taking the lock up front makes it wait its turn (`busy_timeout`) instead.
pub async fn begin_write(
    pool: &SqlitePool,
) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
    Ok(pool.begin_with("BEGIN IMMEDIATE").await?)
}

/// A space in any environment, read on `conn` (inside a transaction, say).
pub async fn space_by_id(
    conn: &mut SqliteConnection,
    id: &str,
) -> Result<Option<Space>, StoreError> {
    let row: Option<SpaceRow> =
        sqlx::query_as(&format!("SELECT {SPACE_COLUMNS} FROM spaces WHERE id = ?"))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    row.map(space_from_row).transpose()
}

#[async_trait]
impl Store for SqliteStore {
    async fn ensure_environment(
        &self,
        name: &str,
        new_id: &str,
        now: i64,
    ) -> Result<Environment, StoreError> {
        sqlx::query(
            "INSERT INTO environments (id, name, created_at) VALUES (?, ?, ?) \
             ON CONFLICT(name) DO NOTHING",
        )
        .bind(new_id)
        .bind(name)
        .bind(now)
        .execute(&self.pool)
        .await?;
        let (id, name, created_at): (String, String, i64) =
            sqlx::query_as("SELECT id, name, created_at FROM environments WHERE name = ?")
                .bind(name)
                .fetch_one(&self.pool)
                .await?;
        Ok(Environment {
            id,
            name,
            created_at,
        })
    }

    async fn environment(&self, id: &str) -> Result<Option<Environment>, StoreError> {
        let row: Option<(String, String, i64)> =
            sqlx::query_as("SELECT id, name, created_at FROM environments WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(id, name, created_at)| Environment {
            id,
            name,
            created_at,
        }))
    }

    async fn insert_environment(&self, environment: &Environment) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO environments (id, name, created_at) VALUES (?, ?, ?) \
             ON CONFLICT(name) DO NOTHING",
        )
        .bind(&environment.id)
        .bind(&environment.name)
        .bind(environment.created_at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_environments(&self) -> Result<Vec<Environment>, StoreError> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT id, name, created_at FROM environments ORDER BY created_at, rowid",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, name, created_at)| Environment {
                id,
                name,
                created_at,
            })
            .collect())
    }

    async fn insert_access_token(&self, token: &AccessToken) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO access_tokens (id, environment_id, name, secret_hash, created_at, revoked_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&token.id)
        .bind(&token.environment_id)
        .bind(&token.name)
        .bind(&token.secret_hash)
        .bind(token.created_at)
        .bind(token.revoked_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn access_token(&self, id: &str) -> Result<Option<AccessToken>, StoreError> {
        let row: Option<AccessTokenRow> = sqlx::query_as(&format!(
            "SELECT {ACCESS_TOKEN_COLUMNS} FROM access_tokens WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(access_token_from_row))
    }

    async fn list_access_tokens(
        &self,
        environment_id: &str,
        page: Page,
    ) -> Result<Vec<AccessToken>, StoreError> {
        let rows: Vec<AccessTokenRow> = sqlx::query_as(&format!(
            "SELECT {ACCESS_TOKEN_COLUMNS} FROM access_tokens WHERE environment_id = ? \
             ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?"
        ))
        .bind(environment_id)
        .bind(i64::from(page.limit))
        .bind(page.offset())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(access_token_from_row).collect())
    }

    async fn revoke_access_token(
        &self,
        environment_id: &str,
        id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE access_tokens SET revoked_at = ? \
             WHERE environment_id = ? AND id = ? AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(environment_id)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn insert_signing_key(&self, key: &SigningKey) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO signing_keys (id, environment_id, public_key_pem, created_at) \
             VALUES (?, ?, ?, ?)",
        )
        .bind(&key.id)
        .bind(&key.environment_id)
        .bind(&key.public_key_pem)
        .bind(key.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn signing_key(
        &self,
        environment_id: &str,
        id: &str,
    ) -> Result<Option<SigningKey>, StoreError> {
        let row: Option<SigningKeyRow> = sqlx::query_as(&format!(
            "SELECT {SIGNING_KEY_COLUMNS} FROM signing_keys \
             WHERE environment_id = ? AND id = ? AND internal = 0"
        ))
        .bind(environment_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(signing_key_from_row))
    }

    async fn signing_key_by_id(&self, id: &str) -> Result<Option<SigningKey>, StoreError> {
        let row: Option<SigningKeyRow> = sqlx::query_as(&format!(
            "SELECT {SIGNING_KEY_COLUMNS} FROM signing_keys WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(signing_key_from_row))
    }

    async fn list_signing_keys(
        &self,
        environment_id: &str,
        page: Page,
    ) -> Result<Vec<SigningKey>, StoreError> {
        let rows: Vec<SigningKeyRow> = sqlx::query_as(&format!(
            "SELECT {SIGNING_KEY_COLUMNS} FROM signing_keys WHERE environment_id = ? \
             AND internal = 0 ORDER BY seq DESC LIMIT ? OFFSET ?"
        ))
        .bind(environment_id)
        .bind(i64::from(page.limit))
        .bind(page.offset())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(signing_key_from_row).collect())
    }

    async fn delete_signing_key(&self, environment_id: &str, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "DELETE FROM signing_keys WHERE environment_id = ? AND id = ? AND internal = 0",
        )
        .bind(environment_id)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn insert_dashboard_join_key(
        &self,
        key: &SigningKey,
        private_key_pem: &str,
    ) -> Result<bool, StoreError> {
        let mut transaction = crate::sqlite::begin_write(&self.pool).await?;
        sqlx::query(
            "INSERT INTO signing_keys (id, environment_id, public_key_pem, created_at, internal) \
             VALUES (?, ?, ?, ?, 1)",
        )
        .bind(&key.id)
        .bind(&key.environment_id)
        .bind(&key.public_key_pem)
        .bind(key.created_at)
        .execute(&mut *transaction)
        .await?;
        let inserted = sqlx::query(
            "INSERT INTO dashboard_join_keys (environment_id, key_id, private_key_pem) \
             VALUES (?, ?, ?) ON CONFLICT(environment_id) DO NOTHING",
        )
        .bind(&key.environment_id)
        .bind(&key.id)
        .bind(private_key_pem)
        .execute(&mut *transaction)
        .await?
        .rows_affected()
            > 0;
        if inserted {
            transaction.commit().await?;
        } else {
            transaction.rollback().await?;
        }
        Ok(inserted)
    }

    async fn dashboard_join_key(
        &self,
        environment_id: &str,
    ) -> Result<Option<DashboardJoinKey>, StoreError> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT key_id, private_key_pem FROM dashboard_join_keys WHERE environment_id = ?",
        )
        .bind(environment_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(key_id, private_key_pem)| DashboardJoinKey {
            key_id,
            private_key_pem,
        }))
    }

    async fn insert_space(&self, space: &Space) -> Result<(), StoreError> {
        let mut transaction = crate::sqlite::begin_write(&self.pool).await?;
        sqlx::query(
            "INSERT INTO spaces (id, environment_id, type, passthrough, status, active_session_id, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&space.id)
        .bind(&space.environment_id)
        .bind(&space.space_type)
        .bind(&space.passthrough)
        .bind(space.status.as_str())
        .bind(&space.active_session_id)
        .bind(space.created_at)
        .execute(&mut *transaction)
        .await?;
        webhooks::space_event(&mut transaction, &space.id, "video.space.created").await?;
        transaction.commit().await?;
        self.wrote_events();
        Ok(())
    }

    async fn space(&self, environment_id: &str, id: &str) -> Result<Option<Space>, StoreError> {
        let row: Option<SpaceRow> = sqlx::query_as(&format!(
            "SELECT {SPACE_COLUMNS} FROM spaces WHERE environment_id = ? AND id = ?"
        ))
        .bind(environment_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(space_from_row).transpose()
    }

    async fn list_spaces(
        &self,
        environment_id: &str,
        page: Page,
    ) -> Result<Vec<Space>, StoreError> {
        let rows: Vec<SpaceRow> = sqlx::query_as(&format!(
            "SELECT {SPACE_COLUMNS} FROM spaces WHERE environment_id = ? \
             ORDER BY seq DESC LIMIT ? OFFSET ?"
        ))
        .bind(environment_id)
        .bind(i64::from(page.limit))
        .bind(page.offset())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(space_from_row).collect()
    }

    async fn delete_space(
        &self,
        environment_id: &str,
        id: &str,
    ) -> Result<SpaceDeletion, StoreError> {
        let mut transaction = crate::sqlite::begin_write(&self.pool).await?;
        // Told as they were, before they are gone; rolled back if the space is not deleted.
        webhooks::space_event(&mut transaction, id, "video.space.deleted").await?;
        for broadcast in broadcasts::of_space(&mut transaction, id).await? {
            let deleted = "video.space.broadcast.deleted";
            webhooks::broadcast_event(&mut transaction, &broadcast.id, deleted).await?;
        }
        let done = sqlx::query(
            "DELETE FROM spaces WHERE environment_id = ? AND id = ? AND status = 'idle'",
        )
        .bind(environment_id)
        .bind(id)
        .execute(&mut *transaction)
        .await?;
        if done.rows_affected() > 0 {
            transaction.commit().await?;
            self.wrote_events();
            return Ok(SpaceDeletion::Deleted);
        }
        drop(transaction);
        Ok(match self.space(environment_id, id).await? {
            Some(_) => SpaceDeletion::StillActive,
            None => SpaceDeletion::NotFound,
        })
    }

    async fn activate_space(&self, id: &str, session_id: &str) -> Result<bool, StoreError> {
        let mut transaction = crate::sqlite::begin_write(&self.pool).await?;
        let done = sqlx::query(
            "UPDATE spaces SET status = 'active', active_session_id = ?, last_session_id = ? \
             WHERE id = ? AND status = 'idle'",
        )
        .bind(session_id)
        .bind(session_id)
        .bind(id)
        .execute(&mut *transaction)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        webhooks::space_event(&mut transaction, id, "video.space.active").await?;
        transaction.commit().await?;
        let value = true;
        self.wrote_events();
        Ok(value)
    }

    async fn deactivate_space(&self, id: &str) -> Result<(), StoreError> {
        let mut transaction = crate::sqlite::begin_write(&self.pool).await?;
        // Broadcasts first: the space's idle event then shows them stopped.
        broadcasts::stop_where(&mut transaction, "space_id = ?", &[id], unix_now()).await?;
        let done = sqlx::query(
            "UPDATE spaces SET status = 'idle', active_session_id = NULL \
             WHERE id = ? AND status = 'active'",
        )
        .bind(id)
        .execute(&mut *transaction)
        .await?;
        if done.rows_affected() > 0 {
            webhooks::space_event(&mut transaction, id, "video.space.idle").await?;
        }
        transaction.commit().await?;
        self.wrote_events();
        Ok(())
    }

    async fn deactivate_all_spaces(&self) -> Result<u64, StoreError> {
        let mut transaction = crate::sqlite::begin_write(&self.pool).await?;
        broadcasts::stop_where(&mut transaction, "1 = 1", &[], unix_now()).await?;
        let active: Vec<(String,)> =
            sqlx::query_as("SELECT id FROM spaces WHERE status = 'active' ORDER BY seq")
                .fetch_all(&mut *transaction)
                .await?;
        for (id,) in &active {
            sqlx::query("UPDATE spaces SET status = 'idle', active_session_id = NULL WHERE id = ?")
                .bind(id)
                .execute(&mut *transaction)
                .await?;
            webhooks::space_event(&mut transaction, id, "video.space.idle").await?;
        }
        transaction.commit().await?;
        let value = active.len() as u64;
        self.wrote_events();
        Ok(value)
    }

    async fn insert_broadcast(
        &self,
        environment_id: &str,
        broadcast: &Broadcast,
        max_per_space: u32,
    ) -> Result<BroadcastInsert, StoreError> {
        let inserted = broadcasts::insert(&self.pool, environment_id, broadcast, max_per_space);
        let value = inserted.await?;
        self.wrote_events();
        Ok(value)
    }

    async fn broadcasts_of_space(&self, space_id: &str) -> Result<Vec<Broadcast>, StoreError> {
        broadcasts::of_space(&mut *self.pool.acquire().await?, space_id).await
    }

    async fn broadcast(
        &self,
        environment_id: &str,
        space_id: &str,
        id: &str,
    ) -> Result<Option<Broadcast>, StoreError> {
        broadcasts::get(&self.pool, environment_id, space_id, id).await
    }

    async fn delete_broadcast(
        &self,
        environment_id: &str,
        space_id: &str,
        id: &str,
    ) -> Result<BroadcastDeletion, StoreError> {
        {
            let changed = broadcasts::delete(&self.pool, environment_id, space_id, id);
            let value = changed.await?;
            self.wrote_events();
            Ok(value)
        }
    }

    async fn start_broadcast(
        &self,
        environment_id: &str,
        space_id: &str,
        id: &str,
    ) -> Result<BroadcastChange, StoreError> {
        {
            let changed = broadcasts::start(&self.pool, environment_id, space_id, id);
            let value = changed.await?;
            self.wrote_events();
            Ok(value)
        }
    }

    async fn stop_broadcast(
        &self,
        environment_id: &str,
        space_id: &str,
        id: &str,
        now: i64,
    ) -> Result<BroadcastChange, StoreError> {
        {
            let changed = broadcasts::stop(&self.pool, environment_id, space_id, id, now);
            let value = changed.await?;
            self.wrote_events();
            Ok(value)
        }
    }

    async fn active_broadcasts(&self) -> Result<Vec<(Broadcast, String)>, StoreError> {
        broadcasts::active(&self.pool).await
    }

    async fn live_stream_by_playback_id(
        &self,
        playback_id: &str,
    ) -> Result<Option<(LiveStream, PlaybackId)>, StoreError> {
        live_streams::by_playback_id(&self.pool, playback_id).await
    }

    async fn set_live_stream_media_status(
        &self,
        id: &str,
        status: LiveStreamStatus,
    ) -> Result<bool, StoreError> {
        {
            let changed = live_streams::set_media_status(&self.pool, id, status);
            let value = changed.await?;
            self.wrote_events();
            Ok(value)
        }
    }

    async fn set_simulcast_target_status(
        &self,
        target_id: &str,
        status: &str,
    ) -> Result<(), StoreError> {
        {
            let changed = live_streams::set_target_status(&self.pool, target_id, status);
            let value = changed.await?;
            self.wrote_events();
            Ok(value)
        }
    }

    async fn insert_live_stream(&self, live_stream: &LiveStream) -> Result<(), StoreError> {
        {
            let changed = live_streams::insert(&self.pool, live_stream);
            let value = changed.await?;
            self.wrote_events();
            Ok(value)
        }
    }

    async fn live_stream(
        &self,
        environment_id: &str,
        id: &str,
    ) -> Result<Option<LiveStream>, StoreError> {
        live_streams::get(&self.pool, environment_id, id).await
    }

    async fn list_live_streams(
        &self,
        environment_id: &str,
        status: Option<LiveStreamStatus>,
        page: Page,
    ) -> Result<Vec<LiveStream>, StoreError> {
        live_streams::list(&self.pool, environment_id, status, page).await
    }

    async fn update_live_stream(&self, live_stream: &LiveStream) -> Result<bool, StoreError> {
        {
            let changed = live_streams::update(&self.pool, live_stream);
            let value = changed.await?;
            self.wrote_events();
            Ok(value)
        }
    }

    async fn delete_live_stream(&self, environment_id: &str, id: &str) -> Result<bool, StoreError> {
        {
            let changed = live_streams::delete(&self.pool, environment_id, id);
            let value = changed.await?;
            self.wrote_events();
            Ok(value)
        }
    }

    async fn insert_playback_id(
        &self,
        environment_id: &str,
        live_stream_id: &str,
        playback_id: &PlaybackId,
    ) -> Result<bool, StoreError> {
        live_streams::insert_playback_id(&self.pool, environment_id, live_stream_id, playback_id)
            .await
    }

    async fn delete_playback_id(
        &self,
        environment_id: &str,
        live_stream_id: &str,
        playback_id: &str,
    ) -> Result<bool, StoreError> {
        let table = ChildTable::PlaybackIds;
        live_streams::delete_child(
            &self.pool,
            table,
            environment_id,
            live_stream_id,
            playback_id,
        )
        .await
    }

    async fn insert_simulcast_target(
        &self,
        environment_id: &str,
        live_stream_id: &str,
        target: &SimulcastTarget,
    ) -> Result<bool, StoreError> {
        let inserted = live_streams::insert_simulcast_target(
            &self.pool,
            environment_id,
            live_stream_id,
            target,
        );
        let value = inserted.await?;
        self.wrote_events();
        Ok(value)
    }

    async fn delete_simulcast_target(
        &self,
        environment_id: &str,
        live_stream_id: &str,
        target_id: &str,
    ) -> Result<bool, StoreError> {
        let table = ChildTable::SimulcastTargets;
        let deleted = live_streams::delete_child(
            &self.pool,
            table,
            environment_id,
            live_stream_id,
            target_id,
        );
        let value = deleted.await?;
        self.wrote_events();
        Ok(value)
    }

    async fn active_session_id(&self, id: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(Option<String>,)> = sqlx::query_as(
            "SELECT active_session_id FROM spaces WHERE id = ? AND status = 'active'",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(|(session,)| session))
    }

    async fn active_space_ids(&self) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT id FROM spaces WHERE status = 'active'")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    async fn latest_session_id(&self, space_id: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(Option<String>,)> = sqlx::query_as(
            "SELECT COALESCE(active_session_id, last_session_id) FROM spaces WHERE id = ?",
        )
        .bind(space_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(|(session,)| session))
    }

    async fn upsert_call_rating(&self, rating: &CallRating) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO call_ratings (environment_id, space_id, session_id, participant_id, \
             connection_id, reported_session_id, score, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (space_id, session_id, participant_id) DO UPDATE SET \
             connection_id = excluded.connection_id, \
             reported_session_id = excluded.reported_session_id, \
             score = excluded.score, created_at = excluded.created_at",
        )
        .bind(&rating.environment_id)
        .bind(&rating.space_id)
        .bind(&rating.session_id)
        .bind(&rating.participant_id)
        .bind(&rating.connection_id)
        .bind(&rating.reported_session_id)
        .bind(i64::from(rating.score))
        .bind(rating.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn list_call_ratings(
        &self,
        environment_id: &str,
        space_id: &str,
        limit: u32,
    ) -> Result<Vec<CallRating>, StoreError> {
        type Row = (String, String, Option<String>, Option<String>, i64, i64);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT session_id, participant_id, connection_id, reported_session_id, score, \
             created_at FROM call_ratings WHERE environment_id = ? AND space_id = ? \
             ORDER BY created_at DESC, seq DESC LIMIT ?",
        )
        .bind(environment_id)
        .bind(space_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(
                |(
                    session_id,
                    participant_id,
                    connection_id,
                    reported_session_id,
                    score,
                    created_at,
                )| {
                    Ok(CallRating {
                        environment_id: environment_id.to_owned(),
                        space_id: space_id.to_owned(),
                        session_id,
                        participant_id,
                        connection_id,
                        reported_session_id,
                        score: u8::try_from(score).map_err(|_| {
                            StoreError::Corrupt(format!("call rating with score {score}"))
                        })?,
                        created_at,
                    })
                },
            )
            .collect()
    }

    async fn insert_dashboard_user(&self, user: &DashboardUser) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "INSERT INTO dashboard_users (id, email, password_hash, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(&user.id)
        .bind(&user.email)
        .bind(&user.password_hash)
        .bind(user.created_at)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) if is_unique_violation(&error) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    async fn dashboard_user_by_email(
        &self,
        email: &str,
    ) -> Result<Option<DashboardUser>, StoreError> {
        let row: Option<UserRow> = sqlx::query_as(
            "SELECT id, email, password_hash, created_at FROM dashboard_users WHERE email = ?",
        )
        .bind(email)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(user_from_row))
    }

    async fn count_dashboard_users(&self) -> Result<u64, StoreError> {
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM dashboard_users")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn insert_dashboard_session(&self, session: &DashboardSession) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO dashboard_sessions (id_hash, user_id, created_at, expires_at) \
             VALUES (?, ?, ?, ?)",
        )
        .bind(&session.id_hash)
        .bind(&session.user_id)
        .bind(session.created_at)
        .bind(session.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn dashboard_session(
        &self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<(DashboardSession, DashboardUser)>, StoreError> {
        type Row = (String, String, i64, i64, String, String, String, i64);
        let row: Option<Row> = sqlx::query_as(
            "SELECT s.id_hash, s.user_id, s.created_at, s.expires_at, \
                    u.id, u.email, u.password_hash, u.created_at \
             FROM dashboard_sessions s JOIN dashboard_users u ON u.id = s.user_id \
             WHERE s.id_hash = ? AND s.expires_at > ?",
        )
        .bind(id_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(
            |(id_hash, user_id, created_at, expires_at, uid, email, hash, user_created)| {
                (
                    DashboardSession {
                        id_hash,
                        user_id,
                        created_at,
                        expires_at,
                    },
                    user_from_row((uid, email, hash, user_created)),
                )
            },
        ))
    }

    async fn delete_dashboard_session(&self, id_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM dashboard_sessions WHERE id_hash = ?")
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn delete_expired_dashboard_sessions(&self, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM dashboard_sessions WHERE expires_at <= ?")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn insert_webhook_endpoint(&self, endpoint: &WebhookEndpoint) -> Result<(), StoreError> {
        webhooks::insert_endpoint(&self.pool, endpoint).await
    }

    async fn webhook_endpoint(
        &self,
        environment_id: &str,
        id: &str,
    ) -> Result<Option<WebhookEndpoint>, StoreError> {
        webhooks::endpoint(&self.pool, environment_id, id).await
    }

    async fn list_webhook_endpoints(
        &self,
        environment_id: &str,
        page: Page,
    ) -> Result<Vec<WebhookEndpoint>, StoreError> {
        webhooks::list_endpoints(&self.pool, environment_id, page).await
    }

    async fn all_webhook_endpoints(&self) -> Result<Vec<WebhookEndpoint>, StoreError> {
        webhooks::all_endpoints(&self.pool).await
    }

    async fn delete_webhook_endpoint(
        &self,
        environment_id: &str,
        id: &str,
    ) -> Result<bool, StoreError> {
        let deleted = webhooks::delete_endpoint(&self.pool, environment_id, id).await?;
        let value = deleted;
        self.wrote_events();
        Ok(value)
    }

    async fn record_participant_event(
        &self,
        space_id: &str,
        event_type: &str,
        data: &serde_json::Value,
    ) -> Result<(), StoreError> {
        webhooks::participant_event(&self.pool, space_id, event_type, data).await?;
        self.wrote_events();
        Ok(())
    }

    async fn due_webhook_deliveries(
        &self,
        endpoint_id: &str,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        webhooks::due(&self.pool, endpoint_id, now_ms, limit).await
    }

    async fn next_webhook_due_ms(&self, endpoint_id: &str) -> Result<Option<i64>, StoreError> {
        webhooks::next_due_ms(&self.pool, endpoint_id).await
    }

    async fn finish_webhook_attempt(
        &self,
        delivery_seq: i64,
        attempt: &WebhookAttempt,
        outcome: DeliveryOutcome,
    ) -> Result<(), StoreError> {
        webhooks::finish_attempt(&self.pool, delivery_seq, attempt, outcome).await
    }

    async fn webhook_deliveries(
        &self,
        environment_id: &str,
        endpoint_id: &str,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        webhooks::deliveries(&self.pool, environment_id, endpoint_id, limit).await
    }

    async fn resend_webhook_delivery(
        &self,
        environment_id: &str,
        endpoint_id: &str,
        delivery_seq: i64,
    ) -> Result<bool, StoreError> {
        let queued =
            webhooks::resend(&self.pool, environment_id, endpoint_id, delivery_seq).await?;
        let value = queued;
        self.wrote_events();
        Ok(value)
    }

    async fn prune_webhook_events(&self, before_ms: i64) -> Result<u64, StoreError> {
        webhooks::prune(&self.pool, before_ms).await
    }

    fn webhook_events_written(&self) -> watch::Receiver<u64> {
        self.events_written.subscribe()
    }

    async fn close(&self) {
        SqliteStore::close(self).await;
    }
}
