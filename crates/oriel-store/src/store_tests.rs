//! The store's tests, run against both backends: each test is a function of a [`TestStore`],
//! and `on_both_backends!` makes one `#[tokio::test]` of it per backend (`sqlite::NAME` and
//! `postgres::NAME`). The PostgreSQL ones get a fresh database each on a private server
//! (`test_postgres.rs`). A few tests of what only a database shared by several nodes has
//! (claims, races between nodes) run on PostgreSQL alone, at the end.

use std::path::PathBuf;
use std::sync::Arc;

use crate::postgres_webhooks::now_ms;
use crate::test_postgres::fresh_database;
use crate::{
    new_id, new_uuid, AccessToken, Broadcast, BroadcastChange, BroadcastDeletion, BroadcastInsert,
    CallRating, DashboardJoinKey, DashboardSession, DashboardUser, DeliveryOutcome, Environment,
    LiveStream, LiveStreamStatus, Page, PlaybackId, PostgresStore, SigningKey, SimulcastTarget,
    Space, SpaceDeletion, SpaceStatus, SqliteStore, Store, WebhookAttempt, WebhookEndpoint,
};

/// A store of either backend, made for one test, with a way to look at its tables.
pub(crate) struct TestStore {
    backend: Backend,
}

enum Backend {
    Sqlite { store: SqliteStore, dir: PathBuf },
    Postgres { store: PostgresStore, url: String },
}

impl TestStore {
    async fn sqlite() -> Self {
        let dir = std::env::temp_dir().join(format!("oriel-store-test-{}", new_id()));
        let store = SqliteStore::open(&dir).await.unwrap();
        Self {
            backend: Backend::Sqlite { store, dir },
        }
    }

    async fn postgres() -> Self {
        let url = fresh_database().await;
        let store = PostgresStore::open(&url).await.unwrap();
        Self {
            backend: Backend::Postgres { store, url },
        }
    }

    fn store(&self) -> &dyn Store {
        match &self.backend {
            Backend::Sqlite { store, .. } => store,
            Backend::Postgres { store, .. } => store,
        }
    }

    /// The number a query of one count answers (written alike for both databases).
    async fn count(&self, sql: &str) -> i64 {
        let (count,): (i64,) = match &self.backend {
            Backend::Sqlite { store, .. } => sqlx::query_as(sql).fetch_one(store.pool()).await,
            Backend::Postgres { store, .. } => sqlx::query_as(sql).fetch_one(store.pool()).await,
        }
        .unwrap();
        count
    }

    /// Another store on the same database: what a second node (or the CLI) opens.
    async fn another(&self) -> Arc<dyn Store> {
        match &self.backend {
            Backend::Sqlite { dir, .. } => Arc::new(SqliteStore::open(dir).await.unwrap()),
            Backend::Postgres { url, .. } => Arc::new(PostgresStore::open(url).await.unwrap()),
        }
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        if let Backend::Sqlite { dir, .. } = &self.backend {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
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

fn live_stream(environment_id: &str) -> LiveStream {
    LiveStream {
        id: new_id(),
        environment_id: environment_id.into(),
        stream_key: new_id(),
        status: LiveStreamStatus::Idle,
        passthrough: None,
        latency_mode: "standard".into(),
        reconnect_window: 60.0,
        max_continuous_duration: 43_200,
        test: false,
        new_asset_settings: None,
        created_at: 5,
        completed_at: None,
        playback_ids: vec![PlaybackId {
            id: new_id(),
            policy: "public".into(),
        }],
        simulcast_targets: vec![],
    }
}

fn broadcast(space_id: &str, live_stream_id: &str) -> Broadcast {
    Broadcast {
        id: new_id(),
        space_id: space_id.into(),
        live_stream_id: live_stream_id.into(),
        active: false,
        layout: "gallery".into(),
        resolution: "1920x1080".into(),
        background: None,
        passthrough: Some("b".into()),
        created_at: 7,
    }
}

fn endpoint(environment_id: &str) -> WebhookEndpoint {
    WebhookEndpoint {
        id: new_id(),
        environment_id: environment_id.into(),
        url: "http://127.0.0.1:9/hooks".into(),
        signing_secret: new_id(),
        created_at: 3,
    }
}

fn attempt(status: u16, at_ms: i64) -> WebhookAttempt {
    WebhookAttempt {
        id: new_uuid(),
        address: "http://127.0.0.1:9/hooks".into(),
        status: Some(status),
        response_body: Some("answer".into()),
        error: None,
        created_at_ms: at_ms,
    }
}

/// One `#[tokio::test]` per backend for each test function named.
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(super::TestStore::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(super::TestStore::postgres().await).await;
                }
            )*
        }
    };
}

async fn live_streams_keep_their_playback_ids_and_targets_per_environment(t: TestStore) {
    let store = t.store();
    let env = store.ensure_environment("a", "env-a", 1).await.unwrap();
    let other = store.ensure_environment("b", "env-b", 1).await.unwrap();
    let mut stream = LiveStream {
        id: new_id(),
        environment_id: env.id.clone(),
        stream_key: new_id(),
        status: LiveStreamStatus::Idle,
        passthrough: None,
        latency_mode: "standard".into(),
        reconnect_window: 60.0,
        max_continuous_duration: 43_200,
        test: false,
        new_asset_settings: None,
        created_at: 5,
        completed_at: None,
        playback_ids: vec![PlaybackId {
            id: new_id(),
            policy: "public".into(),
        }],
        simulcast_targets: vec![],
    };
    store.insert_live_stream(&stream).await.unwrap();
    let target = SimulcastTarget {
        id: new_id(),
        url: "rtmp://127.0.0.1/live".into(),
        stream_key: Some("k".into()),
        passthrough: None,
        status: "idle".into(),
    };
    assert!(!store
        .insert_simulcast_target(&other.id, &stream.id, &target)
        .await
        .unwrap());
    assert!(store
        .insert_simulcast_target(&env.id, &stream.id, &target)
        .await
        .unwrap());
    stream.simulcast_targets.push(target.clone());
    stream.status = LiveStreamStatus::Disabled;
    assert!(store.update_live_stream(&stream).await.unwrap());
    assert_eq!(
        store.live_stream(&env.id, &stream.id).await.unwrap(),
        Some(stream.clone())
    );
    assert_eq!(
        store.live_stream(&other.id, &stream.id).await.unwrap(),
        None
    );
    let disabled = Some(LiveStreamStatus::Disabled);
    let listed = store
        .list_live_streams(&env.id, disabled, Page::default())
        .await
        .unwrap();
    assert_eq!(listed, vec![stream.clone()]);
    assert!(!store
        .delete_simulcast_target(&other.id, &stream.id, &target.id)
        .await
        .unwrap());
    assert!(!store
        .delete_live_stream(&other.id, &stream.id)
        .await
        .unwrap());
    assert!(store.delete_live_stream(&env.id, &stream.id).await.unwrap());
    let orphans = t
        .count(
            "SELECT (SELECT COUNT(*) FROM live_stream_playback_ids) + \
             (SELECT COUNT(*) FROM live_stream_simulcast_targets)",
        )
        .await;
    assert_eq!(orphans, 0, "playback ids and targets go with their stream");
}

async fn environments_are_created_once_by_name(t: TestStore) {
    let store = t.store();
    let a = store.ensure_environment("dev", "env-a", 1).await.unwrap();
    let again = store.ensure_environment("dev", "env-b", 2).await.unwrap();
    assert_eq!(a, again);
    assert_eq!(a.id, "env-a");
    assert_eq!(store.environment("env-a").await.unwrap(), Some(a));
}

async fn spaces_are_scoped_paged_newest_first_and_deleted_only_when_idle(t: TestStore) {
    let store = t.store();
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
    assert_eq!(
        store
            .active_session_id(&made[0].id)
            .await
            .unwrap()
            .as_deref(),
        Some("session-1")
    );
    assert_eq!(
        store.active_space_ids().await.unwrap(),
        vec![made[0].id.clone()]
    );
    assert_eq!(store.active_session_id(&made[1].id).await.unwrap(), None);
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
}

async fn signing_keys_are_found_by_id_with_their_environment(t: TestStore) {
    let store = t.store();
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
}

async fn environments_are_listed_and_created_once_per_name(t: TestStore) {
    let store = t.store();
    let dev = Environment {
        id: "env-a".into(),
        name: "dev".into(),
        created_at: 1,
    };
    assert!(store.insert_environment(&dev).await.unwrap());
    let clash = Environment {
        id: "env-b".into(),
        ..dev.clone()
    };
    assert!(!store.insert_environment(&clash).await.unwrap());
    let prod = store.ensure_environment("prod", "env-c", 2).await.unwrap();
    assert_eq!(store.list_environments().await.unwrap(), vec![dev, prod]);
}

async fn access_tokens_are_listed_per_environment_and_revoked_once(t: TestStore) {
    let store = t.store();
    let env = store.ensure_environment("a", "env-a", 1).await.unwrap();
    store.ensure_environment("b", "env-b", 1).await.unwrap();
    let token = |id: &str, at: i64| AccessToken {
        id: id.into(),
        environment_id: env.id.clone(),
        name: format!("token {id}"),
        secret_hash: "hash".into(),
        created_at: at,
        revoked_at: None,
    };
    store.insert_access_token(&token("t1", 10)).await.unwrap();
    store.insert_access_token(&token("t2", 20)).await.unwrap();
    let listed = store
        .list_access_tokens(&env.id, Page::default())
        .await
        .unwrap();
    assert_eq!(listed, vec![token("t2", 20), token("t1", 10)]);
    assert!(store
        .list_access_tokens("env-b", Page::default())
        .await
        .unwrap()
        .is_empty());
    assert!(!store.revoke_access_token("env-b", "t1", 30).await.unwrap());
    assert!(store.revoke_access_token(&env.id, "t1", 30).await.unwrap());
    assert!(!store.revoke_access_token(&env.id, "t1", 31).await.unwrap());
    let revoked = store.access_token("t1").await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(30));
}

async fn dashboard_join_keys_are_hidden_from_the_api_but_verifiable(t: TestStore) {
    let store = t.store();
    let env = store.ensure_environment("a", "env-a", 1).await.unwrap();
    let key = SigningKey {
        id: "internal-key".into(),
        environment_id: env.id.clone(),
        public_key_pem: "PUBLIC".into(),
        created_at: 5,
    };
    assert!(store
        .insert_dashboard_join_key(&key, "PRIVATE")
        .await
        .unwrap());
    let second = SigningKey {
        id: "second".into(),
        ..key.clone()
    };
    assert!(!store
        .insert_dashboard_join_key(&second, "OTHER")
        .await
        .unwrap());
    assert_eq!(store.signing_key_by_id("second").await.unwrap(), None);
    assert_eq!(
        store.dashboard_join_key(&env.id).await.unwrap(),
        Some(DashboardJoinKey {
            key_id: key.id.clone(),
            private_key_pem: "PRIVATE".into()
        })
    );
    assert_eq!(
        store.signing_key_by_id(&key.id).await.unwrap(),
        Some(key.clone())
    );
    assert_eq!(store.signing_key(&env.id, &key.id).await.unwrap(), None);
    assert!(store
        .list_signing_keys(&env.id, Page::default())
        .await
        .unwrap()
        .is_empty());
    assert!(!store.delete_signing_key(&env.id, &key.id).await.unwrap());
}

async fn dashboard_users_and_sessions(t: TestStore) {
    let store = t.store();
    let user = DashboardUser {
        id: "u1".into(),
        email: "Ada@Example.com".into(),
        password_hash: "hash".into(),
        created_at: 1,
    };
    assert_eq!(store.count_dashboard_users().await.unwrap(), 0);
    assert!(store.insert_dashboard_user(&user).await.unwrap());
    let same_email = DashboardUser {
        id: "u2".into(),
        email: "ada@example.com".into(),
        ..user.clone()
    };
    assert!(!store.insert_dashboard_user(&same_email).await.unwrap());
    assert_eq!(store.count_dashboard_users().await.unwrap(), 1);
    assert_eq!(
        store
            .dashboard_user_by_email("ADA@example.COM")
            .await
            .unwrap(),
        Some(user.clone())
    );
    let session = DashboardSession {
        id_hash: "h1".into(),
        user_id: user.id.clone(),
        created_at: 100,
        expires_at: 200,
    };
    store.insert_dashboard_session(&session).await.unwrap();
    assert_eq!(
        store.dashboard_session("h1", 150).await.unwrap(),
        Some((session.clone(), user.clone()))
    );
    assert_eq!(store.dashboard_session("h1", 200).await.unwrap(), None);
    assert_eq!(store.dashboard_session("other", 150).await.unwrap(), None);
    store.delete_dashboard_session("h1").await.unwrap();
    assert_eq!(store.dashboard_session("h1", 150).await.unwrap(), None);
    store.insert_dashboard_session(&session).await.unwrap();
    assert_eq!(
        store.delete_expired_dashboard_sessions(199).await.unwrap(),
        0
    );
    assert_eq!(
        store.delete_expired_dashboard_sessions(200).await.unwrap(),
        1
    );
}

async fn a_rating_names_the_last_session_after_the_call_and_replaces_an_earlier_one(t: TestStore) {
    let store = t.store();
    let env = store.ensure_environment("dev", "env-a", 1).await.unwrap();
    let s = space(&env.id, 1);
    store.insert_space(&s).await.unwrap();
    assert_eq!(store.latest_session_id(&s.id).await.unwrap(), None);
    assert!(store.activate_space(&s.id, "session-1").await.unwrap());
    store.deactivate_space(&s.id).await.unwrap();
    let session = store.latest_session_id(&s.id).await.unwrap();
    assert_eq!(
        session.as_deref(),
        Some("session-1"),
        "kept after going idle"
    );
    let rating = |score, at| CallRating {
        environment_id: env.id.clone(),
        space_id: s.id.clone(),
        session_id: "session-1".into(),
        participant_id: "alice".into(),
        connection_id: Some("c1".into()),
        reported_session_id: Some("session-1".into()),
        score,
        created_at: at,
    };
    store.upsert_call_rating(&rating(2, 10)).await.unwrap();
    store.upsert_call_rating(&rating(5, 11)).await.unwrap();
    let listed = store.list_call_ratings(&env.id, &s.id, 10).await.unwrap();
    assert_eq!(listed, vec![rating(5, 11)]);
    assert!(store
        .list_call_ratings("other-env", &s.id, 10)
        .await
        .unwrap()
        .is_empty());
}

async fn broadcasts_keep_their_rules_and_follow_their_space(t: TestStore) {
    let store = t.store();
    let env = store.ensure_environment("dev", "env-a", 1).await.unwrap();
    let s = space(&env.id, 1);
    store.insert_space(&s).await.unwrap();
    let stream = live_stream(&env.id);
    store.insert_live_stream(&stream).await.unwrap();
    let b = broadcast(&s.id, &stream.id);
    let missing_space = broadcast("nope", &stream.id);
    let missing_stream = broadcast(&s.id, "nope");
    assert_eq!(
        store
            .insert_broadcast(&env.id, &missing_space, 1)
            .await
            .unwrap(),
        BroadcastInsert::SpaceNotFound
    );
    assert_eq!(
        store
            .insert_broadcast(&env.id, &missing_stream, 1)
            .await
            .unwrap(),
        BroadcastInsert::LiveStreamNotFound
    );
    assert_eq!(
        store.insert_broadcast("env-b", &b, 1).await.unwrap(),
        BroadcastInsert::SpaceNotFound
    );
    assert_eq!(
        store.insert_broadcast(&env.id, &b, 1).await.unwrap(),
        BroadcastInsert::Inserted
    );
    let second = broadcast(&s.id, &stream.id);
    assert_eq!(
        store.insert_broadcast(&env.id, &second, 1).await.unwrap(),
        BroadcastInsert::LimitReached
    );
    assert_eq!(
        store.broadcasts_of_space(&s.id).await.unwrap(),
        vec![b.clone()]
    );
    let (env_id, s_id, b_id) = (env.id.as_str(), s.id.as_str(), b.id.as_str());
    assert_eq!(
        store.start_broadcast(env_id, s_id, b_id).await.unwrap(),
        BroadcastChange::SpaceIdle
    );
    assert!(store.activate_space(s_id, "session-1").await.unwrap());
    assert_eq!(
        store.start_broadcast("env-b", s_id, b_id).await.unwrap(),
        BroadcastChange::NotFound
    );
    assert_eq!(
        store.start_broadcast(env_id, s_id, b_id).await.unwrap(),
        BroadcastChange::Changed
    );
    assert_eq!(
        store.start_broadcast(env_id, s_id, b_id).await.unwrap(),
        BroadcastChange::Unchanged
    );
    let active = Broadcast {
        active: true,
        ..b.clone()
    };
    assert_eq!(
        store.active_broadcasts().await.unwrap(),
        vec![(active.clone(), env.id.clone())]
    );
    assert_eq!(
        store.broadcast(env_id, s_id, b_id).await.unwrap(),
        Some(active)
    );
    assert_eq!(
        store.delete_broadcast(env_id, s_id, b_id).await.unwrap(),
        BroadcastDeletion::StillActive
    );
    assert!(store
        .set_live_stream_media_status(&stream.id, LiveStreamStatus::Active)
        .await
        .unwrap());
    // The space going idle stops its broadcast, and the live stream's recording completes.
    store.deactivate_space(s_id).await.unwrap();
    assert!(store.active_broadcasts().await.unwrap().is_empty());
    let after = store
        .live_stream(env_id, &stream.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.status, LiveStreamStatus::Idle);
    assert!(after.completed_at.is_some());
    assert_eq!(
        store.stop_broadcast(env_id, s_id, b_id, 9).await.unwrap(),
        BroadcastChange::Unchanged
    );
    // A disabled live stream cannot be started into.
    let mut disabled = after.clone();
    disabled.status = LiveStreamStatus::Disabled;
    assert!(store.update_live_stream(&disabled).await.unwrap());
    assert!(store.activate_space(s_id, "session-2").await.unwrap());
    assert_eq!(
        store.start_broadcast(env_id, s_id, b_id).await.unwrap(),
        BroadcastChange::LiveStreamUnavailable
    );
    assert!(!store
        .set_live_stream_media_status(&stream.id, LiveStreamStatus::Active)
        .await
        .unwrap());
    assert_eq!(
        store.delete_broadcast("env-b", s_id, b_id).await.unwrap(),
        BroadcastDeletion::NotFound
    );
    assert_eq!(
        store.delete_broadcast(env_id, s_id, b_id).await.unwrap(),
        BroadcastDeletion::Deleted
    );
    assert_eq!(store.broadcast(env_id, s_id, b_id).await.unwrap(), None);
    assert_eq!(
        store.stop_broadcast(env_id, s_id, b_id, 9).await.unwrap(),
        BroadcastChange::NotFound
    );
}

async fn webhook_events_are_written_with_their_change_and_sent_in_order_per_object(t: TestStore) {
    let store = t.store();
    let env = store.ensure_environment("dev", "env-a", 1).await.unwrap();
    // Without an endpoint nothing is written: nobody could get it.
    store.insert_space(&space(&env.id, 0)).await.unwrap();
    assert_eq!(t.count("SELECT COUNT(*) FROM webhook_events").await, 0);
    let hook = endpoint(&env.id);
    store.insert_webhook_endpoint(&hook).await.unwrap();
    assert_eq!(
        store.webhook_endpoint(&env.id, &hook.id).await.unwrap(),
        Some(hook.clone())
    );
    assert_eq!(
        store.webhook_endpoint("env-b", &hook.id).await.unwrap(),
        None
    );
    assert_eq!(
        store.all_webhook_endpoints().await.unwrap(),
        vec![hook.clone()]
    );
    let written = store.webhook_events_written();
    let s = space(&env.id, 1);
    store.insert_space(&s).await.unwrap();
    assert!(written.has_changed().unwrap(), "the dispatcher is woken");
    assert!(store.activate_space(&s.id, "session-1").await.unwrap());
    let other = space(&env.id, 2);
    store.insert_space(&other).await.unwrap();
    // A refused change leaves no event: the active space is not deleted.
    assert_eq!(
        store.delete_space(&env.id, &s.id).await.unwrap(),
        SpaceDeletion::StillActive
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM webhook_events").await, 3);

    let far = now_ms() + 3_600_000;
    let due = store
        .due_webhook_deliveries(&hook.id, far, 10)
        .await
        .unwrap();
    let told: Vec<(&str, &str)> = due
        .iter()
        .map(|d| (d.event.object_id.as_str(), d.event.event_type.as_str()))
        .collect();
    // Per object only its oldest: the space's going active waits for its creation.
    assert_eq!(
        told,
        vec![
            (s.id.as_str(), "video.space.created"),
            (other.id.as_str(), "video.space.created")
        ]
    );
    assert_eq!(due[0].event.environment_name, "dev");
    assert_eq!(due[0].event.object_type, "space");
    assert!(due[0].attempts.is_empty());
    let data: serde_json::Value = serde_json::from_str(&due[0].event.data).unwrap();
    assert_eq!(data["status"], "idle", "the space as it was then: {data}");
    assert_eq!(data["passthrough"], "space 1");
    // Asked again (attempts in flight), the same store gets the same ones.
    assert_eq!(
        store
            .due_webhook_deliveries(&hook.id, far, 10)
            .await
            .unwrap(),
        due
    );
    assert_eq!(
        store
            .due_webhook_deliveries(&hook.id, far, 1)
            .await
            .unwrap(),
        due[..1]
    );

    // The first fails and is retried later: its object's next event waits, the other's not.
    let retry_at = far + 60_000;
    let failed = attempt(500, far);
    let (first, second) = (due[0].delivery_seq, due[1].delivery_seq);
    store
        .finish_webhook_attempt(first, &failed, DeliveryOutcome::RetryAt(retry_at))
        .await
        .unwrap();
    let due = store
        .due_webhook_deliveries(&hook.id, far, 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].delivery_seq, second);
    store
        .finish_webhook_attempt(second, &attempt(200, far), DeliveryOutcome::Delivered)
        .await
        .unwrap();
    assert_eq!(
        store.next_webhook_due_ms(&hook.id).await.unwrap(),
        Some(retry_at)
    );
    let due = store
        .due_webhook_deliveries(&hook.id, retry_at, 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].delivery_seq, first);
    assert_eq!(due[0].attempts, vec![failed.clone()]);
    store
        .finish_webhook_attempt(first, &attempt(204, retry_at), DeliveryOutcome::Delivered)
        .await
        .unwrap();
    let due = store
        .due_webhook_deliveries(&hook.id, retry_at, 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].event.event_type, "video.space.active");
    let data: serde_json::Value = serde_json::from_str(&due[0].event.data).unwrap();
    assert_eq!(data["active_session_id"], "session-1");
    let active_seq = due[0].delivery_seq;
    store
        .finish_webhook_attempt(active_seq, &attempt(410, retry_at), DeliveryOutcome::GaveUp)
        .await
        .unwrap();
    assert_eq!(store.next_webhook_due_ms(&hook.id).await.unwrap(), None);

    // The dashboard's log: newest first, with each one's outcome.
    let log = store
        .webhook_deliveries(&env.id, &hook.id, 10)
        .await
        .unwrap();
    let states: Vec<(i64, &str, u32, Option<u16>)> = log
        .iter()
        .map(|d| (d.id, d.state.as_str(), d.attempts, d.last_status))
        .collect();
    assert_eq!(
        states,
        vec![
            (second, "delivered", 1, Some(200)),
            (active_seq, "failed", 1, Some(410)),
            (first, "delivered", 2, Some(204)),
        ]
    );
    assert!(store
        .webhook_deliveries("env-b", &hook.id, 10)
        .await
        .unwrap()
        .is_empty());
    // Sent again on request.
    assert!(!store
        .resend_webhook_delivery("env-b", &hook.id, active_seq)
        .await
        .unwrap());
    assert!(store
        .resend_webhook_delivery(&env.id, &hook.id, active_seq)
        .await
        .unwrap());
    let due = store
        .due_webhook_deliveries(&hook.id, far, 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].delivery_seq, active_seq);
    assert_eq!(due[0].attempts.len(), 1);

    // Participant events are written as the caller tells them.
    let joined = serde_json::json!({ "id": "p1", "space_id": s.id });
    store
        .record_participant_event(&s.id, "video.space.participant.joined", &joined)
        .await
        .unwrap();
    store
        .record_participant_event("no-such-space", "video.space.participant.joined", &joined)
        .await
        .unwrap();
    assert_eq!(t.count("SELECT COUNT(*) FROM webhook_events").await, 4);

    // Old events are forgotten once nothing waits to send them.
    assert_eq!(store.prune_webhook_events(far).await.unwrap(), 2);
    assert_eq!(t.count("SELECT COUNT(*) FROM webhook_events").await, 2);
    assert!(store
        .delete_webhook_endpoint(&env.id, &hook.id)
        .await
        .unwrap());
    assert!(!store
        .delete_webhook_endpoint(&env.id, &hook.id)
        .await
        .unwrap());
    assert_eq!(
        t.count("SELECT COUNT(*) FROM webhook_deliveries").await,
        0,
        "deliveries go with their endpoint"
    );
}

async fn a_second_store_on_the_same_database_sees_the_first_ones_writes(t: TestStore) {
    // What `oriel access-token create` does beside a running node.
    let cli = t.another().await;
    let env = cli.ensure_environment("dev", "env-a", 1).await.unwrap();
    let token = AccessToken {
        id: "t1".into(),
        environment_id: env.id.clone(),
        name: String::new(),
        secret_hash: "hash".into(),
        created_at: 1,
        revoked_at: None,
    };
    cli.insert_access_token(&token).await.unwrap();
    cli.close().await;
    assert_eq!(t.store().access_token("t1").await.unwrap(), Some(token));
    assert_eq!(
        t.store()
            .ensure_environment("dev", "env-b", 2)
            .await
            .unwrap(),
        env
    );
}

async fn dashboard_emails_are_unique_ignoring_ascii_case_only(t: TestStore) {
    let store = t.store();
    let user = |id: &str, email: &str| DashboardUser {
        id: id.into(),
        email: email.into(),
        password_hash: "hash".into(),
        created_at: 1,
    };
    assert!(store
        .insert_dashboard_user(&user("u1", "ÉVA@example.com"))
        .await
        .unwrap());
    assert!(!store
        .insert_dashboard_user(&user("u2", "Éva@EXAMPLE.com"))
        .await
        .unwrap());
    // As SQLite's NOCASE: letters beyond ASCII are not folded.
    assert!(store
        .insert_dashboard_user(&user("u3", "éva@example.com"))
        .await
        .unwrap());
    let found = store
        .dashboard_user_by_email("éVA@EXAMPLE.COM")
        .await
        .unwrap();
    assert_eq!(found.map(|u| u.id).as_deref(), Some("u3"));
}

on_both_backends!(
    live_streams_keep_their_playback_ids_and_targets_per_environment,
    environments_are_created_once_by_name,
    spaces_are_scoped_paged_newest_first_and_deleted_only_when_idle,
    signing_keys_are_found_by_id_with_their_environment,
    environments_are_listed_and_created_once_per_name,
    access_tokens_are_listed_per_environment_and_revoked_once,
    dashboard_join_keys_are_hidden_from_the_api_but_verifiable,
    dashboard_users_and_sessions,
    a_rating_names_the_last_session_after_the_call_and_replaces_an_earlier_one,
    broadcasts_keep_their_rules_and_follow_their_space,
    webhook_events_are_written_with_their_change_and_sent_in_order_per_object,
    a_second_store_on_the_same_database_sees_the_first_ones_writes,
    dashboard_emails_are_unique_ignoring_ascii_case_only,
);

/// What only a database that several nodes share has to get right.
mod nodes_sharing_postgres {
    use super::*;

    /// Two nodes on one fresh database, started together (both migrate it).
    async fn two_nodes() -> (PostgresStore, PostgresStore) {
        let url = fresh_database().await;
        let (a, b) = tokio::join!(PostgresStore::open(&url), PostgresStore::open(&url));
        (a.unwrap(), b.unwrap())
    }

    #[tokio::test]
    async fn each_due_delivery_is_claimed_by_one_node_until_sent_or_the_claim_lapses() {
        let (a, b) = two_nodes().await;
        let env = a.ensure_environment("dev", "env-a", 1).await.unwrap();
        let hook = endpoint(&env.id);
        a.insert_webhook_endpoint(&hook).await.unwrap();
        let (s1, s2) = (space(&env.id, 1), space(&env.id, 2));
        a.insert_space(&s1).await.unwrap();
        b.insert_space(&s2).await.unwrap();
        let now = now_ms() + 1_000;
        let mine = a.due_webhook_deliveries(&hook.id, now, 10).await.unwrap();
        assert_eq!(mine.len(), 2);
        assert!(b
            .due_webhook_deliveries(&hook.id, now, 10)
            .await
            .unwrap()
            .is_empty());
        // A asks again while its attempts are in flight: they are still its own.
        assert_eq!(
            a.due_webhook_deliveries(&hook.id, now, 10).await.unwrap(),
            mine
        );
        // B waits for the claims to lapse, unless the attempts are kept first.
        let lapse = b.next_webhook_due_ms(&hook.id).await.unwrap().unwrap();
        assert!(lapse > now, "{lapse} after {now}");
        a.finish_webhook_attempt(
            mine[0].delivery_seq,
            &attempt(200, now),
            DeliveryOutcome::Delivered,
        )
        .await
        .unwrap();
        // A node that died mid-attempt: its claim lapses and the other node sends it.
        let later = lapse + 1;
        let taken_over = b.due_webhook_deliveries(&hook.id, later, 10).await.unwrap();
        assert_eq!(taken_over.len(), 1);
        assert_eq!(taken_over[0].delivery_seq, mine[1].delivery_seq);
        assert!(a
            .due_webhook_deliveries(&hook.id, later, 10)
            .await
            .unwrap()
            .is_empty());
    }

    #[tokio::test]
    async fn two_dispatchers_asking_at_once_never_get_the_same_delivery() {
        let (a, b) = two_nodes().await;
        let env = a.ensure_environment("dev", "env-a", 1).await.unwrap();
        let hook = endpoint(&env.id);
        a.insert_webhook_endpoint(&hook).await.unwrap();
        for n in 0..40 {
            a.insert_space(&space(&env.id, n)).await.unwrap();
        }
        let now = now_ms() + 1_000;
        let mut seen = std::collections::HashSet::new();
        loop {
            let (x, y) = tokio::join!(
                a.due_webhook_deliveries(&hook.id, now, 7),
                b.due_webhook_deliveries(&hook.id, now, 7)
            );
            let (x, y) = (x.unwrap(), y.unwrap());
            if x.is_empty() && y.is_empty() {
                break;
            }
            for (store, due) in [(&a, x), (&b, y)] {
                for delivery in due {
                    assert!(seen.insert(delivery.delivery_seq), "sent twice");
                    store
                        .finish_webhook_attempt(
                            delivery.delivery_seq,
                            &attempt(200, now),
                            DeliveryOutcome::Delivered,
                        )
                        .await
                        .unwrap();
                }
            }
        }
        assert_eq!(seen.len(), 40);
    }

    #[tokio::test]
    async fn racing_nodes_keep_one_broadcast_per_space_and_one_session_per_activation() {
        let (a, b) = two_nodes().await;
        let env = a.ensure_environment("dev", "env-a", 1).await.unwrap();
        let stream = live_stream(&env.id);
        a.insert_live_stream(&stream).await.unwrap();
        for n in 0..10 {
            let s = space(&env.id, n);
            a.insert_space(&s).await.unwrap();
            let (first, second) = (broadcast(&s.id, &stream.id), broadcast(&s.id, &stream.id));
            let (x, y) = tokio::join!(
                a.insert_broadcast(&env.id, &first, 1),
                b.insert_broadcast(&env.id, &second, 1)
            );
            let mut outcomes = [x.unwrap(), y.unwrap()];
            outcomes.sort_by_key(|o| *o == BroadcastInsert::Inserted);
            assert_eq!(
                outcomes,
                [BroadcastInsert::LimitReached, BroadcastInsert::Inserted]
            );
            let (x, y) = tokio::join!(
                a.activate_space(&s.id, "session-a"),
                b.activate_space(&s.id, "session-b")
            );
            assert!(x.unwrap() ^ y.unwrap(), "exactly one node activates");
        }
    }

    #[tokio::test]
    async fn another_node_is_woken_by_the_events_this_one_writes() {
        let (a, b) = two_nodes().await;
        let env = a.ensure_environment("dev", "env-a", 1).await.unwrap();
        a.insert_webhook_endpoint(&endpoint(&env.id)).await.unwrap();
        let mut woken = b.webhook_events_written();
        // The listener may still be connecting: write until it hears one.
        let heard = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            loop {
                a.insert_space(&space(&env.id, 1)).await.unwrap();
                if tokio::time::timeout(std::time::Duration::from_millis(500), woken.changed())
                    .await
                    .is_ok()
                {
                    break;
                }
            }
        })
        .await;
        assert!(heard.is_ok(), "node b never heard of node a's events");
    }
}
