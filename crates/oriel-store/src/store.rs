use async_trait::async_trait;

use crate::{AccessToken, Environment, Page, SigningKey, Space, SpaceDeletion, StoreError};

/// Durable state of a node. Every object lookup that an API caller can reach is scoped by
/// environment, so one environment's ids simply do not exist for another.
///
/// Lists are ordered newest first.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    // ----- environments -----

    /// The environment called `name`, created (with `new_id`, at `now`) when missing.
    async fn ensure_environment(
        &self,
        name: &str,
        new_id: &str,
        now: i64,
    ) -> Result<Environment, StoreError>;
    async fn environment(&self, id: &str) -> Result<Option<Environment>, StoreError>;

    // ----- access tokens -----

    async fn insert_access_token(&self, token: &AccessToken) -> Result<(), StoreError>;
    /// Looked up by id alone: it is how a request finds its environment.
    async fn access_token(&self, id: &str) -> Result<Option<AccessToken>, StoreError>;

    // ----- signing keys -----

    async fn insert_signing_key(&self, key: &SigningKey) -> Result<(), StoreError>;
    async fn signing_key(
        &self,
        environment_id: &str,
        id: &str,
    ) -> Result<Option<SigningKey>, StoreError>;
    /// Looked up by id alone: a join token names its key, and the key names its environment.
    async fn signing_key_by_id(&self, id: &str) -> Result<Option<SigningKey>, StoreError>;
    async fn list_signing_keys(
        &self,
        environment_id: &str,
        page: Page,
    ) -> Result<Vec<SigningKey>, StoreError>;
    /// Whether a key was deleted.
    async fn delete_signing_key(&self, environment_id: &str, id: &str) -> Result<bool, StoreError>;

    // ----- spaces -----

    async fn insert_space(&self, space: &Space) -> Result<(), StoreError>;
    async fn space(&self, environment_id: &str, id: &str) -> Result<Option<Space>, StoreError>;
    async fn list_spaces(&self, environment_id: &str, page: Page)
        -> Result<Vec<Space>, StoreError>;
    /// Deletes the space only if it is idle, atomically.
    async fn delete_space(
        &self,
        environment_id: &str,
        id: &str,
    ) -> Result<SpaceDeletion, StoreError>;
    /// Marks an idle space active with a new session id. False when the space no longer exists
    /// (deleted meanwhile) or is already active.
    async fn activate_space(&self, id: &str, session_id: &str) -> Result<bool, StoreError>;
    /// Marks a space idle and forgets its session id.
    async fn deactivate_space(&self, id: &str) -> Result<(), StoreError>;
    /// Marks every space idle; used when a single node starts, since no connection survives a
    /// restart. Returns how many were active.
    async fn deactivate_all_spaces(&self) -> Result<u64, StoreError>;
}
