use async_trait::async_trait;

use crate::{
    AccessToken, Broadcast, BroadcastChange, BroadcastDeletion, BroadcastInsert, CallRating,
    DashboardJoinKey, DashboardSession, DashboardUser, DeliveryOutcome, DueDelivery, Environment,
    LiveStream, LiveStreamStatus, Page, PlaybackId, SigningKey, SimulcastTarget, Space,
    SpaceDeletion, StoreError, WebhookAttempt, WebhookDelivery, WebhookEndpoint,
};

/// Durable state of a node. Every object lookup that an API caller can reach is scoped by
/// environment, so one environment's ids simply do not exist for another.
///
/// Lists are ordered newest first.
///
/// The backends behave alike, and the same tests run against both (`store_tests.rs`). On a
/// database several nodes share, one difference shows: the deliveries
/// `due_webhook_deliveries` returns are claimed by this store until their attempt is kept
/// (`finish_webhook_attempt`) or a while has passed, so that other nodes' dispatchers do
/// not send them too; this store gets its own claimed deliveries again, as SQLite's does.
///
/// Every change that a webhook event tells of (spaces, broadcasts, live streams and their
/// simulcast targets going created, active, idle, deleted, ...) writes that event to the
/// outbox in its own transaction, with one pending delivery per endpoint of the environment.
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
    /// Creates an environment; false when one of that name exists already.
    async fn insert_environment(&self, environment: &Environment) -> Result<bool, StoreError>;
    /// Every environment, oldest first.
    async fn list_environments(&self) -> Result<Vec<Environment>, StoreError>;

    // ----- access tokens -----

    async fn insert_access_token(&self, token: &AccessToken) -> Result<(), StoreError>;
    /// Looked up by id alone: it is how a request finds its environment.
    async fn access_token(&self, id: &str) -> Result<Option<AccessToken>, StoreError>;
    async fn list_access_tokens(
        &self,
        environment_id: &str,
        page: Page,
    ) -> Result<Vec<AccessToken>, StoreError>;
    /// Marks a token revoked at `now`; false when it does not exist in the environment or was
    /// revoked already.
    async fn revoke_access_token(
        &self,
        environment_id: &str,
        id: &str,
        now: i64,
    ) -> Result<bool, StoreError>;

    // ----- signing keys -----
    //
    // Keys the dashboard holds (see `insert_dashboard_join_key`) are found only by
    // `signing_key_by_id`: the other methods see the keys the API made.

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

    /// Stores the dashboard's own key of an environment (marked internal) with its private
    /// half. False when the environment has one already.
    async fn insert_dashboard_join_key(
        &self,
        key: &SigningKey,
        private_key_pem: &str,
    ) -> Result<bool, StoreError>;
    async fn dashboard_join_key(
        &self,
        environment_id: &str,
    ) -> Result<Option<DashboardJoinKey>, StoreError>;

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
    /// Marks a space idle and forgets its session id; its active broadcasts stop (see
    /// `stop_broadcast`) in the same transaction.
    async fn deactivate_space(&self, id: &str) -> Result<(), StoreError>;
    /// Marks every space idle, stopping their broadcasts; used when a single node starts, since
    /// no connection survives a restart. Returns how many were active.
    async fn deactivate_all_spaces(&self) -> Result<u64, StoreError>;
    /// The session id of a space if it is active; how a node taking over from another (see
    /// the handover) joins the session that node started.
    async fn active_session_id(&self, id: &str) -> Result<Option<String>, StoreError>;
    /// Ids of every active space, in all environments.
    async fn active_space_ids(&self) -> Result<Vec<String>, StoreError>;

    // ----- broadcasts -----

    /// Creates a broadcast in a space of the environment, to a live stream of the same
    /// environment, unless the space has `max_per_space` already; atomically.
    async fn insert_broadcast(
        &self,
        environment_id: &str,
        broadcast: &Broadcast,
        max_per_space: u32,
    ) -> Result<BroadcastInsert, StoreError>;
    /// The broadcasts of a space, oldest first (the caller has checked the space's environment).
    async fn broadcasts_of_space(&self, space_id: &str) -> Result<Vec<Broadcast>, StoreError>;
    async fn broadcast(
        &self,
        environment_id: &str,
        space_id: &str,
        id: &str,
    ) -> Result<Option<Broadcast>, StoreError>;
    /// Deletes a broadcast only if it is idle, atomically.
    async fn delete_broadcast(
        &self,
        environment_id: &str,
        space_id: &str,
        id: &str,
    ) -> Result<BroadcastDeletion, StoreError>;
    /// Starts a broadcast, only while its space is active and its live stream exists and is
    /// not disabled, atomically.
    async fn start_broadcast(
        &self,
        environment_id: &str,
        space_id: &str,
        id: &str,
    ) -> Result<BroadcastChange, StoreError>;
    /// Stops a broadcast: it goes idle, and its live stream goes idle (unless disabled) with
    /// its recording completed at `now`.
    async fn stop_broadcast(
        &self,
        environment_id: &str,
        space_id: &str,
        id: &str,
        now: i64,
    ) -> Result<BroadcastChange, StoreError>;

    /// Every active broadcast with its space's environment id: what should be composing now.
    async fn active_broadcasts(&self) -> Result<Vec<(Broadcast, String)>, StoreError>;

    // ----- live streams -----

    /// Stores a live stream with its playback ids and simulcast targets, atomically.
    async fn insert_live_stream(&self, live_stream: &LiveStream) -> Result<(), StoreError>;
    async fn live_stream(
        &self,
        environment_id: &str,
        id: &str,
    ) -> Result<Option<LiveStream>, StoreError>;
    /// Newest first, optionally only those with `status`.
    async fn list_live_streams(
        &self,
        environment_id: &str,
        status: Option<LiveStreamStatus>,
        page: Page,
    ) -> Result<Vec<LiveStream>, StoreError>;
    /// Writes the stream's own fields (not its playback ids or targets); false when it does
    /// not exist in the environment.
    async fn update_live_stream(&self, live_stream: &LiveStream) -> Result<bool, StoreError>;
    /// The live stream a playback id belongs to, in any environment (HLS playback is public).
    async fn live_stream_by_playback_id(
        &self,
        playback_id: &str,
    ) -> Result<Option<(LiveStream, PlaybackId)>, StoreError>;
    /// Sets the status media decides (`Active` while it flows, `Idle` after), never over
    /// `Disabled`; whether it changed.
    async fn set_live_stream_media_status(
        &self,
        id: &str,
        status: LiveStreamStatus,
    ) -> Result<bool, StoreError>;
    /// Sets a simulcast target's status ("idle", "starting", "broadcasting", "errored").
    async fn set_simulcast_target_status(
        &self,
        target_id: &str,
        status: &str,
    ) -> Result<(), StoreError>;
    /// Whether a live stream was deleted (with its playback ids and targets).
    async fn delete_live_stream(&self, environment_id: &str, id: &str) -> Result<bool, StoreError>;
    /// False when the live stream does not exist in the environment.
    async fn insert_playback_id(
        &self,
        environment_id: &str,
        live_stream_id: &str,
        playback_id: &PlaybackId,
    ) -> Result<bool, StoreError>;
    async fn delete_playback_id(
        &self,
        environment_id: &str,
        live_stream_id: &str,
        playback_id: &str,
    ) -> Result<bool, StoreError>;
    /// False when the live stream does not exist in the environment.
    async fn insert_simulcast_target(
        &self,
        environment_id: &str,
        live_stream_id: &str,
        target: &SimulcastTarget,
    ) -> Result<bool, StoreError>;
    async fn delete_simulcast_target(
        &self,
        environment_id: &str,
        live_stream_id: &str,
        target_id: &str,
    ) -> Result<bool, StoreError>;
    /// The space's active session, else the one it had last (kept after it went idle).
    async fn latest_session_id(&self, space_id: &str) -> Result<Option<String>, StoreError>;

    // ----- call-quality ratings -----

    /// Stores a rating; one of the same participant for the same session is replaced.
    async fn upsert_call_rating(&self, rating: &CallRating) -> Result<(), StoreError>;
    /// The newest `limit` ratings of a space, newest first.
    async fn list_call_ratings(
        &self,
        environment_id: &str,
        space_id: &str,
        limit: u32,
    ) -> Result<Vec<CallRating>, StoreError>;

    // ----- dashboard users and sessions -----

    /// False when a user with that email (compared case-insensitively) exists.
    async fn insert_dashboard_user(&self, user: &DashboardUser) -> Result<bool, StoreError>;
    async fn dashboard_user_by_email(
        &self,
        email: &str,
    ) -> Result<Option<DashboardUser>, StoreError>;
    async fn count_dashboard_users(&self) -> Result<u64, StoreError>;
    async fn insert_dashboard_session(&self, session: &DashboardSession) -> Result<(), StoreError>;
    /// The session and its user, if it exists and has not expired at `now`.
    async fn dashboard_session(
        &self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<(DashboardSession, DashboardUser)>, StoreError>;
    async fn delete_dashboard_session(&self, id_hash: &str) -> Result<(), StoreError>;
    /// Forgets sessions expired at `now`; returns how many.
    async fn delete_expired_dashboard_sessions(&self, now: i64) -> Result<u64, StoreError>;

    // ----- webhooks -----

    async fn insert_webhook_endpoint(&self, endpoint: &WebhookEndpoint) -> Result<(), StoreError>;
    async fn webhook_endpoint(
        &self,
        environment_id: &str,
        id: &str,
    ) -> Result<Option<WebhookEndpoint>, StoreError>;
    async fn list_webhook_endpoints(
        &self,
        environment_id: &str,
        page: Page,
    ) -> Result<Vec<WebhookEndpoint>, StoreError>;
    /// Every endpoint of every environment, oldest first: what the dispatcher serves.
    async fn all_webhook_endpoints(&self) -> Result<Vec<WebhookEndpoint>, StoreError>;
    /// Deletes the endpoint and its pending deliveries.
    async fn delete_webhook_endpoint(
        &self,
        environment_id: &str,
        id: &str,
    ) -> Result<bool, StoreError>;
    /// Writes a `video.space.participant.*` event of the space (presence is not stored).
    async fn record_participant_event(
        &self,
        space_id: &str,
        event_type: &str,
        data: &serde_json::Value,
    ) -> Result<(), StoreError>;
    /// The endpoint's deliveries due at `now_ms`: per object only its oldest pending one.
    async fn due_webhook_deliveries(
        &self,
        endpoint_id: &str,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<DueDelivery>, StoreError>;
    /// When the endpoint's next pending delivery falls due (unix ms), if it has one.
    async fn next_webhook_due_ms(&self, endpoint_id: &str) -> Result<Option<i64>, StoreError>;
    /// Keeps an attempt and its outcome, atomically.
    async fn finish_webhook_attempt(
        &self,
        delivery_seq: i64,
        attempt: &WebhookAttempt,
        outcome: DeliveryOutcome,
    ) -> Result<(), StoreError>;
    /// The endpoint's newest deliveries, newest first.
    async fn webhook_deliveries(
        &self,
        environment_id: &str,
        endpoint_id: &str,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>, StoreError>;
    /// Queues a delivery again now; false when the endpoint has no such delivery.
    async fn resend_webhook_delivery(
        &self,
        environment_id: &str,
        endpoint_id: &str,
        delivery_seq: i64,
    ) -> Result<bool, StoreError>;
    /// Forgets events older than `before_ms` that nothing waits to deliver; returns how many.
    async fn prune_webhook_events(&self, before_ms: i64) -> Result<u64, StoreError>;
    /// Changes each time events may have been written by this process: the dispatcher waits on
    /// it rather than polling.
    fn webhook_events_written(&self) -> tokio::sync::watch::Receiver<u64>;

    // ----- lifetime -----

    /// Closes the connections (after the queries under way finish); the store is not used
    /// after this.
    async fn close(&self);
}
