use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use crate::{
    AccessToken, Environment, Page, SigningKey, Space, SpaceDeletion, SpaceStatus, Store,
    StoreError,
};

/// File name of the database inside the data directory.
const DATABASE_FILE: &str = "oriel.db";

/// The embedded store: one SQLite file in write-ahead-log mode, so the CLI and a running server
/// can use the same data directory at once.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
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
            .max_connections(4)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Self { pool })
    }

    /// Closes the pool, checkpointing the write-ahead log.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

type SpaceRow = (
    String,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    i64,
);
const SPACE_COLUMNS: &str =
    "id, environment_id, type, passthrough, status, active_session_id, created_at";

fn space_from_row(row: SpaceRow) -> Result<Space, StoreError> {
    let (id, environment_id, space_type, passthrough, status, active_session_id, created_at) = row;
    let status = match status.as_str() {
        "idle" => SpaceStatus::Idle,
        "active" => SpaceStatus::Active,
        other => {
            return Err(StoreError::Corrupt(format!(
                "space {id} has status {other:?}"
            )))
        }
    };
    Ok(Space {
        id,
        environment_id,
        space_type,
        passthrough,
        status,
        active_session_id,
        created_at,
    })
}

type SigningKeyRow = (String, String, String, i64);
const SIGNING_KEY_COLUMNS: &str = "id, environment_id, public_key_pem, created_at";

fn signing_key_from_row(row: SigningKeyRow) -> SigningKey {
    let (id, environment_id, public_key_pem, created_at) = row;
    SigningKey {
        id,
        environment_id,
        public_key_pem,
        created_at,
    }
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
        let row: Option<(String, String, String, String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT id, environment_id, name, secret_hash, created_at, revoked_at \
             FROM access_tokens WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(
            |(id, environment_id, name, secret_hash, created_at, revoked_at)| AccessToken {
                id,
                environment_id,
                name,
                secret_hash,
                created_at,
                revoked_at,
            },
        ))
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
            "SELECT {SIGNING_KEY_COLUMNS} FROM signing_keys WHERE environment_id = ? AND id = ?"
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
             ORDER BY seq DESC LIMIT ? OFFSET ?"
        ))
        .bind(environment_id)
        .bind(i64::from(page.limit))
        .bind(page.offset())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(signing_key_from_row).collect())
    }

    async fn delete_signing_key(&self, environment_id: &str, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM signing_keys WHERE environment_id = ? AND id = ?")
            .bind(environment_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn insert_space(&self, space: &Space) -> Result<(), StoreError> {
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
        .execute(&self.pool)
        .await?;
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
        let done = sqlx::query(
            "DELETE FROM spaces WHERE environment_id = ? AND id = ? AND status = 'idle'",
        )
        .bind(environment_id)
        .bind(id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() > 0 {
            return Ok(SpaceDeletion::Deleted);
        }
        Ok(match self.space(environment_id, id).await? {
            Some(_) => SpaceDeletion::StillActive,
            None => SpaceDeletion::NotFound,
        })
    }

    async fn activate_space(&self, id: &str, session_id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE spaces SET status = 'active', active_session_id = ? \
             WHERE id = ? AND status = 'idle'",
        )
        .bind(session_id)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn deactivate_space(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE spaces SET status = 'idle', active_session_id = NULL WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn deactivate_all_spaces(&self) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE spaces SET status = 'idle', active_session_id = NULL WHERE status = 'active'",
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::new_id;

    async fn store() -> (SqliteStore, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("oriel-store-test-{}", new_id()));
        (SqliteStore::open(&dir).await.unwrap(), dir)
    }

    fn space(environment_id: &str, n: i64) -> Space {
        Space {
            id: new_id(),
            environment_id: environment_id.into(),
            space_type: "server".into(),
            passthrough: Some(format!("space {n}")),
            status: SpaceStatus::Idle,
            active_session_id: None,
            created_at: 1_700_000_000 + n,
        }
    }

    #[tokio::test]
    async fn environments_are_created_once_by_name() {
        let (store, dir) = store().await;
        let a = store.ensure_environment("dev", "env-a", 1).await.unwrap();
        let again = store.ensure_environment("dev", "env-b", 2).await.unwrap();
        assert_eq!(a, again);
        assert_eq!(a.id, "env-a");
        assert_eq!(store.environment("env-a").await.unwrap(), Some(a));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn spaces_are_scoped_paged_newest_first_and_deleted_only_when_idle() {
        let (store, dir) = store().await;
        let env = store.ensure_environment("a", "env-a", 1).await.unwrap();
        let other = store.ensure_environment("b", "env-b", 1).await.unwrap();
        let mut made = Vec::new();
        for n in 0..5 {
            let s = space(&env.id, n);
            store.insert_space(&s).await.unwrap();
            made.push(s);
        }
        let first = store
            .list_spaces(&env.id, Page { limit: 2, page: 1 })
            .await
            .unwrap();
        assert_eq!(first, vec![made[4].clone(), made[3].clone()]);
        let last = store
            .list_spaces(&env.id, Page { limit: 2, page: 3 })
            .await
            .unwrap();
        assert_eq!(last, vec![made[0].clone()]);
        let past = store
            .list_spaces(&env.id, Page { limit: 2, page: 4 })
            .await
            .unwrap();
        assert!(past.is_empty());
        assert!(store
            .list_spaces(&other.id, Page::default())
            .await
            .unwrap()
            .is_empty());
        assert_eq!(store.space(&other.id, &made[0].id).await.unwrap(), None);

        assert!(store
            .activate_space(&made[0].id, "session-1")
            .await
            .unwrap());
        assert!(!store
            .activate_space(&made[0].id, "session-2")
            .await
            .unwrap());
        let active = store.space(&env.id, &made[0].id).await.unwrap().unwrap();
        assert_eq!(active.status, SpaceStatus::Active);
        assert_eq!(active.active_session_id.as_deref(), Some("session-1"));
        assert_eq!(
            store.delete_space(&env.id, &made[0].id).await.unwrap(),
            SpaceDeletion::StillActive
        );
        assert_eq!(
            store.delete_space(&other.id, &made[0].id).await.unwrap(),
            SpaceDeletion::NotFound
        );
        assert_eq!(store.deactivate_all_spaces().await.unwrap(), 1);
        assert_eq!(
            store.delete_space(&env.id, &made[0].id).await.unwrap(),
            SpaceDeletion::Deleted
        );
        assert!(!store
            .activate_space(&made[0].id, "session-3")
            .await
            .unwrap());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn signing_keys_are_found_by_id_with_their_environment() {
        let (store, dir) = store().await;
        let env = store.ensure_environment("a", "env-a", 1).await.unwrap();
        let key = SigningKey {
            id: new_id(),
            environment_id: env.id.clone(),
            public_key_pem: "PEM".into(),
            created_at: 5,
        };
        store.insert_signing_key(&key).await.unwrap();
        assert_eq!(
            store.signing_key_by_id(&key.id).await.unwrap(),
            Some(key.clone())
        );
        assert_eq!(store.signing_key("env-b", &key.id).await.unwrap(), None);
        assert!(!store.delete_signing_key("env-b", &key.id).await.unwrap());
        assert!(store.delete_signing_key(&env.id, &key.id).await.unwrap());
        assert_eq!(store.signing_key_by_id(&key.id).await.unwrap(), None);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
