use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use tokio::sync::watch;

use crate::postgres_broadcasts as broadcasts;
use crate::postgres_live_streams::{self as live_streams, ChildTable};
use crate::postgres_webhooks as webhooks;
use crate::rows::{
    access_token_from_row, is_unique_violation, signing_key_from_row, space_from_row, unix_now,
    user_from_row, AccessTokenRow, SigningKeyRow, SpaceRow, UserRow, ACCESS_TOKEN_COLUMNS,
    SIGNING_KEY_COLUMNS, SPACE_COLUMNS,
};
use crate::{
    new_id, AccessToken, Broadcast, BroadcastChange, BroadcastDeletion, BroadcastInsert,
    CallRating, DashboardJoinKey, DashboardSession, DashboardUser, DeliveryOutcome, DueDelivery,
    Environment, LiveStream, LiveStreamStatus, Page, PlaybackId, SigningKey, SimulcastTarget,
    Space, SpaceDeletion, Store, StoreError, WebhookAttempt, WebhookDelivery, WebhookEndpoint,
};

/// Connections one node keeps to the database at most.
const MAX_CONNECTIONS: u32 = 16;
/// How long a query waits for a free connection before it fails.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// The key of the advisory lock every write transaction holds (see `begin_write`): "oriel" in
/// ASCII, so that it is recognisable in `pg_locks`.
const WRITE_LOCK: i64 = 0x006f_7269_656c;
/// The channel on which a commit that wrote webhook events (or made one due) tells every node.
pub const EVENTS_CHANNEL: &str = "oriel_webhook_events";
/// How long the listener waits before listening again after it lost its connection.
const LISTEN_RETRY: Duration = Duration::from_secs(1);

/// The store on a PostgreSQL database that several nodes share. It keeps the same tables and
/// behaves as [`crate::SqliteStore`] does; what SQLite gets right by having one writer at a
/// time, this one gets right across nodes: write transactions take one lock (so checks and
/// writes stay atomic and the outbox's order is the order of the commits), and the webhook
/// deliveries a node sends are claimed by it (`FOR UPDATE SKIP LOCKED`).
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// Bumped after each change that may have written webhook events, here or (through
    /// LISTEN) on another node.
    events_written: Arc<watch::Sender<u64>>,
    /// Who claims webhook deliveries through this store: one name per process.
    claimant: Arc<str>,
    /// Stops the listener when the last clone of the store goes.
    listener: Arc<ListenerTask>,
}

struct ListenerTask(tokio::task::AbortHandle);

impl Drop for ListenerTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`, with
    /// libpq's query parameters such as `sslmode` or `host=/run/postgresql`) and migrates it.
    /// Nodes starting together are safe: the migrations run under a lock of their own.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let mut options = PgConnectOptions::from_str(url)?;
        if options.get_application_name().is_none() {
            // How the nodes' connections show in pg_stat_activity.
            options = options.application_name("oriel");
        }
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        let events_written = Arc::new(watch::channel(0).0);
        let listener = tokio::spawn(listen_for_events(
            pool.clone(),
            Arc::downgrade(&events_written),
        ));
        Ok(Self {
            pool,
            events_written,
            claimant: Arc::from(new_id()),
            listener: Arc::new(ListenerTask(listener.abort_handle())),
        })
    }

    /// Wakes the webhook dispatcher after a change that may have written events.
    fn wrote_events(&self) {
        self.events_written.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Gives up this store's claims on webhook deliveries (their attempts were cut off: a
    /// successor or another node sends them at once) and closes the pool.
    pub async fn close(&self) {
        self.listener.0.abort();
        if let Err(error) = webhooks::release_claims(&self.pool, &self.claimant).await {
            tracing::warn!(%error, "cannot give up the claims on webhook deliveries");
        }
        self.pool.close().await;
    }

    /// The pool, for tests that look at the tables themselves.
    #[cfg(test)]
    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// Bumps `events_written` whenever any node commits webhook events, so a dispatcher here
/// delivers what another node wrote without waiting for its next look. A lost connection is
/// made again; the bump after it covers what was missed meanwhile.
async fn listen_for_events(pool: PgPool, events_written: std::sync::Weak<watch::Sender<u64>>) {
    let bump = |events_written: &std::sync::Weak<watch::Sender<u64>>| match events_written.upgrade()
    {
        Some(sender) => {
            sender.send_modify(|n| *n = n.wrapping_add(1));
            true
        }
        None => false,
    };
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(error) => {
                if pool.is_closed() {
                    return;
                }
                tracing::debug!(%error, "cannot listen for webhook events; trying again");
                tokio::time::sleep(LISTEN_RETRY).await;
                continue;
            }
        };
        if let Err(error) = listener.listen(EVENTS_CHANNEL).await {
            tracing::debug!(%error, "cannot listen for webhook events; trying again");
            tokio::time::sleep(LISTEN_RETRY).await;
            continue;
        }
        loop {
            match listener.try_recv().await {
                Ok(Some(_)) => {}
                // The connection was lost and is made again by the next call: events of that
                // moment may have been missed, so look anyway.
                Ok(None) => {}
                Err(error) => {
                    tracing::debug!(%error, "lost the webhook events listener");
                    tokio::time::sleep(LISTEN_RETRY).await;
                }
            }
            if !bump(&events_written) || pool.is_closed() {
                return;
            }
        }
    }
}

/// A transaction, begun in a task of its own so that a caller that stops waiting (an HTTP
/// request whose client went away drops its handler) cannot cut `BEGIN` off: sqlx 0.8 counts
/// the transaction only once `BEGIN` has answered, so a `begin()` dropped in between left the
/// connection inside a transaction nobody would end, and the pool handed it to the next
/// request ("there is already a transaction in progress"). Once begun, a dropped
/// `Transaction` rolls back as it should.
pub async fn begin(pool: &PgPool) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let pool = pool.clone();
    run_to_completion(async move { pool.begin().await }).await
}

/// Runs `future` to its end even if the caller stops waiting for it.
pub(crate) async fn run_to_completion<T: Send + 'static>(
    future: impl Future<Output = Result<T, sqlx::Error>> + Send + 'static,
) -> Result<T, sqlx::Error> {
    match tokio::spawn(future).await {
        Ok(result) => result,
        Err(join_error) => Err(sqlx::Error::Io(std::io::Error::other(join_error))),
    }
}

/// A write transaction: it takes, for as long as it runs, the one lock all of them take. This
/// is what SQLite's single writer gives the SQLite store, across every node on the database:
/// a check and the write it allows (one broadcast per space, deleting only idle objects) are
/// atomic, and outbox events get their `seq` in the order their transactions commit, so the
/// dispatcher never sees a later event of an object before an earlier one. Control-plane
/// writes are few and short; reads and the dispatcher's claims do not take it.
pub async fn begin_write(pool: &PgPool) -> Result<Transaction<'static, Postgres>, StoreError> {
    let mut transaction = begin(pool).await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(WRITE_LOCK)
        .execute(&mut *transaction)
        .await?;
    Ok(transaction)
}

/// A space in any environment, read on `conn` (inside a transaction, say).
pub async fn space_by_id(conn: &mut PgConnection, id: &str) -> Result<Option<Space>, StoreError> {
    let row: Option<SpaceRow> =
        sqlx::query_as(&format!("SELECT {SPACE_COLUMNS} FROM spaces WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    row.map(space_from_row).transpose()
}

#[async_trait]
impl Store for PostgresStore {
    async fn ensure_environment(
        &self,
        name: &str,
        new_id: &str,
        now: i64,
    ) -> Result<Environment, StoreError> {
        sqlx::query(
            "INSERT INTO environments (id, name, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(new_id)
        .bind(name)
        .bind(now)
        .execute(&self.pool)
        .await?;
        let (id, name, created_at): (String, String, i64) =
            sqlx::query_as("SELECT id, name, created_at FROM environments WHERE name = $1")
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
            sqlx::query_as("SELECT id, name, created_at FROM environments WHERE id = $1")
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
            "INSERT INTO environments (id, name, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
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
            "SELECT id, name, created_at FROM environments ORDER BY created_at, seq",
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
             VALUES ($1, $2, $3, $4, $5, $6)",
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
            "SELECT {ACCESS_TOKEN_COLUMNS} FROM access_tokens WHERE id = $1"
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
            "SELECT {ACCESS_TOKEN_COLUMNS} FROM access_tokens WHERE environment_id = $1 \
             ORDER BY created_at DESC, seq DESC LIMIT $2 OFFSET $3"
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
            "UPDATE access_tokens SET revoked_at = $1 \
             WHERE environment_id = $2 AND id = $3 AND revoked_at IS NULL",
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
             VALUES ($1, $2, $3, $4)",
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
             WHERE environment_id = $1 AND id = $2 AND NOT internal"
        ))
        .bind(environment_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(signing_key_from_row))
    }

    async fn signing_key_by_id(&self, id: &str) -> Result<Option<SigningKey>, StoreError> {
        let row: Option<SigningKeyRow> = sqlx::query_as(&format!(
            "SELECT {SIGNING_KEY_COLUMNS} FROM signing_keys WHERE id = $1"
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
            "SELECT {SIGNING_KEY_COLUMNS} FROM signing_keys WHERE environment_id = $1 \
             AND NOT internal ORDER BY seq DESC LIMIT $2 OFFSET $3"
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
            "DELETE FROM signing_keys WHERE environment_id = $1 AND id = $2 AND NOT internal",
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
        let mut transaction = begin_write(&self.pool).await?;
        sqlx::query(
            "INSERT INTO signing_keys (id, environment_id, public_key_pem, created_at, internal) \
             VALUES ($1, $2, $3, $4, TRUE)",
        )
        .bind(&key.id)
        .bind(&key.environment_id)
        .bind(&key.public_key_pem)
        .bind(key.created_at)
        .execute(&mut *transaction)
        .await?;
        let inserted = sqlx::query(
            "INSERT INTO dashboard_join_keys (environment_id, key_id, private_key_pem) \
             VALUES ($1, $2, $3) ON CONFLICT (environment_id) DO NOTHING",
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
            "SELECT key_id, private_key_pem FROM dashboard_join_keys WHERE environment_id = $1",
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
        let mut transaction = begin_write(&self.pool).await?;
        sqlx::query(
            "INSERT INTO spaces (id, environment_id, type, passthrough, status, active_session_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
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
            "SELECT {SPACE_COLUMNS} FROM spaces WHERE environment_id = $1 AND id = $2"
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
            "SELECT {SPACE_COLUMNS} FROM spaces WHERE environment_id = $1 \
             ORDER BY seq DESC LIMIT $2 OFFSET $3"
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
        let mut transaction = begin_write(&self.pool).await?;
        // Told as they were, before they are gone; rolled back if the space is not deleted.
        webhooks::space_event(&mut transaction, id, "video.space.deleted").await?;
        for broadcast in broadcasts::of_space(&mut transaction, id).await? {
            let deleted = "video.space.broadcast.deleted";
            webhooks::broadcast_event(&mut transaction, &broadcast.id, deleted).await?;
        }
        let done = sqlx::query(
            "DELETE FROM spaces WHERE environment_id = $1 AND id = $2 AND status = 'idle'",
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
        transaction.rollback().await?;
        Ok(match self.space(environment_id, id).await? {
            Some(_) => SpaceDeletion::StillActive,
            None => SpaceDeletion::NotFound,
        })
    }

    async fn activate_space(&self, id: &str, session_id: &str) -> Result<bool, StoreError> {
        let mut transaction = begin_write(&self.pool).await?;
        let done = sqlx::query(
            "UPDATE spaces SET status = 'active', active_session_id = $1, last_session_id = $1 \
             WHERE id = $2 AND status = 'idle'",
        )
        .bind(session_id)
        .bind(id)
        .execute(&mut *transaction)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        webhooks::space_event(&mut transaction, id, "video.space.active").await?;
        transaction.commit().await?;
        self.wrote_events();
        Ok(true)
    }

    async fn deactivate_space(&self, id: &str) -> Result<(), StoreError> {
        let mut transaction = begin_write(&self.pool).await?;
        // Broadcasts first: the space's idle event then shows them stopped.
        broadcasts::stop_where(&mut transaction, "space_id = $1", &[id], unix_now()).await?;
        let done = sqlx::query(
            "UPDATE spaces SET status = 'idle', active_session_id = NULL \
             WHERE id = $1 AND status = 'active'",
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
        let mut transaction = begin_write(&self.pool).await?;
        broadcasts::stop_where(&mut transaction, "TRUE", &[], unix_now()).await?;
        let active: Vec<(String,)> =
            sqlx::query_as("SELECT id FROM spaces WHERE status = 'active' ORDER BY seq")
                .fetch_all(&mut *transaction)
                .await?;
        for (id,) in &active {
            sqlx::query(
                "UPDATE spaces SET status = 'idle', active_session_id = NULL WHERE id = $1",
            )
            .bind(id)
            .execute(&mut *transaction)
            .await?;
            webhooks::space_event(&mut transaction, id, "video.space.idle").await?;
        }
        transaction.commit().await?;
        self.wrote_events();
        Ok(active.len() as u64)
    }

    async fn active_session_id(&self, id: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(Option<String>,)> = sqlx::query_as(
            "SELECT active_session_id FROM spaces WHERE id = $1 AND status = 'active'",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(|(session,)| session))
    }

    async fn active_space_ids(&self) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT id FROM spaces WHERE status = 'active' ORDER BY seq")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
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
        let value = broadcasts::delete(&self.pool, environment_id, space_id, id).await?;
        self.wrote_events();
        Ok(value)
    }

    async fn start_broadcast(
        &self,
        environment_id: &str,
        space_id: &str,
        id: &str,
    ) -> Result<BroadcastChange, StoreError> {
        let value = broadcasts::start(&self.pool, environment_id, space_id, id).await?;
        self.wrote_events();
        Ok(value)
    }

    async fn stop_broadcast(
        &self,
        environment_id: &str,
        space_id: &str,
        id: &str,
        now: i64,
    ) -> Result<BroadcastChange, StoreError> {
        let value = broadcasts::stop(&self.pool, environment_id, space_id, id, now).await?;
        self.wrote_events();
        Ok(value)
    }

    async fn active_broadcasts(&self) -> Result<Vec<(Broadcast, String)>, StoreError> {
        broadcasts::active(&self.pool).await
    }

    async fn insert_live_stream(&self, live_stream: &LiveStream) -> Result<(), StoreError> {
        live_streams::insert(&self.pool, live_stream).await?;
        self.wrote_events();
        Ok(())
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
        let value = live_streams::update(&self.pool, live_stream).await?;
        self.wrote_events();
        Ok(value)
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
        let value = live_streams::set_media_status(&self.pool, id, status).await?;
        self.wrote_events();
        Ok(value)
    }

    async fn set_simulcast_target_status(
        &self,
        target_id: &str,
        status: &str,
    ) -> Result<(), StoreError> {
        live_streams::set_target_status(&self.pool, target_id, status).await?;
        self.wrote_events();
        Ok(())
    }

    async fn delete_live_stream(&self, environment_id: &str, id: &str) -> Result<bool, StoreError> {
        let value = live_streams::delete(&self.pool, environment_id, id).await?;
        self.wrote_events();
        Ok(value)
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

    async fn latest_session_id(&self, space_id: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(Option<String>,)> = sqlx::query_as(
            "SELECT COALESCE(active_session_id, last_session_id) FROM spaces WHERE id = $1",
        )
        .bind(space_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(|(session,)| session))
    }

    async fn upsert_call_rating(&self, rating: &CallRating) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO call_ratings (environment_id, space_id, session_id, participant_id, \
             connection_id, reported_session_id, score, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
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
        .bind(i16::from(rating.score))
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
        type Row = (String, String, Option<String>, Option<String>, i16, i64);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT session_id, participant_id, connection_id, reported_session_id, score, \
             created_at FROM call_ratings WHERE environment_id = $1 AND space_id = $2 \
             ORDER BY created_at DESC, seq DESC LIMIT $3",
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
            "INSERT INTO dashboard_users (id, email, password_hash, created_at) \
             VALUES ($1, $2, $3, $4)",
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
        // The expression of the unique index (ASCII case folded), so that index is used.
        let row: Option<UserRow> = sqlx::query_as(
            "SELECT id, email, password_hash, created_at FROM dashboard_users \
             WHERE lower(email COLLATE \"C\") = lower($1 COLLATE \"C\")",
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
             VALUES ($1, $2, $3, $4)",
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
             WHERE s.id_hash = $1 AND s.expires_at > $2",
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
        sqlx::query("DELETE FROM dashboard_sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn delete_expired_dashboard_sessions(&self, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM dashboard_sessions WHERE expires_at <= $1")
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
        self.wrote_events();
        Ok(deleted)
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
        webhooks::due(&self.pool, &self.claimant, endpoint_id, now_ms, limit).await
    }

    async fn next_webhook_due_ms(&self, endpoint_id: &str) -> Result<Option<i64>, StoreError> {
        webhooks::next_due_ms(&self.pool, &self.claimant, endpoint_id).await
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
        self.wrote_events();
        Ok(queued)
    }

    async fn prune_webhook_events(&self, before_ms: i64) -> Result<u64, StoreError> {
        webhooks::prune(&self.pool, before_ms).await
    }

    fn webhook_events_written(&self) -> watch::Receiver<u64> {
        self.events_written.subscribe()
    }

    async fn close(&self) {
        PostgresStore::close(self).await;
    }
}
