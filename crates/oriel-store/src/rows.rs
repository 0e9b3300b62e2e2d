//! Rows as both backends read them, and how they become the store's objects: the columns
//! and their order are the same on SQLite and PostgreSQL, so one decoding serves both.

use crate::{
    AccessToken, Broadcast, DashboardUser, LiveStream, LiveStreamStatus, SigningKey,
    SimulcastTarget, Space, SpaceStatus, StoreError, WebhookEndpoint,
};

/// The time a space's going idle completes its broadcasts' recordings. The callers of
/// `deactivate_space` (presence, at a last leave) have no clock to hand in, so this one reads
/// the system's.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Whether an insert failed only because a UNIQUE constraint already held the value.
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

// ----- spaces -----

pub type SpaceRow = (
    String,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    i64,
);
pub const SPACE_COLUMNS: &str =
    "id, environment_id, type, passthrough, status, active_session_id, created_at";

pub fn space_from_row(row: SpaceRow) -> Result<Space, StoreError> {
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

// ----- signing keys, access tokens, dashboard users -----

pub type SigningKeyRow = (String, String, String, i64);
pub const SIGNING_KEY_COLUMNS: &str = "id, environment_id, public_key_pem, created_at";

pub fn signing_key_from_row(row: SigningKeyRow) -> SigningKey {
    let (id, environment_id, public_key_pem, created_at) = row;
    SigningKey {
        id,
        environment_id,
        public_key_pem,
        created_at,
    }
}

pub type AccessTokenRow = (String, String, String, String, i64, Option<i64>);
pub const ACCESS_TOKEN_COLUMNS: &str =
    "id, environment_id, name, secret_hash, created_at, revoked_at";

pub fn access_token_from_row(row: AccessTokenRow) -> AccessToken {
    let (id, environment_id, name, secret_hash, created_at, revoked_at) = row;
    AccessToken {
        id,
        environment_id,
        name,
        secret_hash,
        created_at,
        revoked_at,
    }
}

pub type UserRow = (String, String, String, i64);

pub fn user_from_row((id, email, password_hash, created_at): UserRow) -> DashboardUser {
    DashboardUser {
        id,
        email,
        password_hash,
        created_at,
    }
}

// ----- broadcasts -----

/// id, space_id, live_stream_id, status, layout, resolution, background, passthrough, created_at
pub type BroadcastRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
);
pub const BROADCAST_COLUMNS: &str =
    "id, space_id, live_stream_id, status, layout, resolution, background, passthrough, created_at";

pub fn broadcast_from_row(row: BroadcastRow) -> Broadcast {
    let (
        id,
        space_id,
        live_stream_id,
        status,
        layout,
        resolution,
        background,
        passthrough,
        created_at,
    ) = row;
    Broadcast {
        id,
        space_id,
        live_stream_id,
        active: status == "active",
        layout,
        resolution,
        background,
        passthrough,
        created_at,
    }
}

// ----- live streams -----

pub type LiveStreamRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    f64,
    i64,
    bool,
    Option<String>,
    i64,
    Option<i64>,
);
pub const LIVE_STREAM_COLUMNS: &str = "id, environment_id, stream_key, status, passthrough, \
     latency_mode, reconnect_window, max_continuous_duration, test, new_asset_settings, \
     created_at, completed_at";

/// The stream's own fields; its playback ids and simulcast targets are read apart.
pub fn live_stream_from_row(row: LiveStreamRow) -> Result<LiveStream, StoreError> {
    let (
        id,
        environment_id,
        stream_key,
        status,
        passthrough,
        latency_mode,
        reconnect_window,
        max_continuous_duration,
        test,
        new_asset_settings,
        created_at,
        completed_at,
    ) = row;
    let status = LiveStreamStatus::parse(&status)
        .ok_or_else(|| StoreError::Corrupt(format!("live stream {id} has status {status:?}")))?;
    Ok(LiveStream {
        id,
        environment_id,
        stream_key,
        status,
        passthrough,
        latency_mode,
        reconnect_window,
        max_continuous_duration,
        test,
        new_asset_settings,
        created_at,
        completed_at,
        playback_ids: Vec::new(),
        simulcast_targets: Vec::new(),
    })
}

/// id, url, stream_key, passthrough, status
pub type TargetRow = (String, String, Option<String>, Option<String>, String);
pub const TARGET_COLUMNS: &str = "id, url, stream_key, passthrough, status";

pub fn target_from_row(row: TargetRow) -> SimulcastTarget {
    let (id, url, stream_key, passthrough, status) = row;
    SimulcastTarget {
        id,
        url,
        stream_key,
        passthrough,
        status,
    }
}

// ----- webhook endpoints -----

pub type EndpointRow = (String, String, String, String, i64);
pub const ENDPOINT_COLUMNS: &str = "id, environment_id, url, signing_secret, created_at";

pub fn endpoint_from_row(row: EndpointRow) -> WebhookEndpoint {
    let (id, environment_id, url, signing_secret, created_at) = row;
    WebhookEndpoint {
        id,
        environment_id,
        url,
        signing_secret,
        created_at,
    }
}
