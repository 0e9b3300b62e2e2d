//! The stored objects, in the store's own terms (timestamps are unix seconds).

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Environment {
    pub id: String,
    pub name: String,
    pub created_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessToken {
    pub id: String,
    pub environment_id: String,
    pub name: String,
    /// PHC string of a slow password hash of the secret.
    pub secret_hash: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningKey {
    pub id: String,
    pub environment_id: String,
    pub public_key_pem: String,
    pub created_at: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpaceStatus {
    /// Nobody is connected.
    Idle,
    /// At least one participant is connected.
    Active,
}

impl SpaceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Active => "active",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Space {
    pub id: String,
    pub environment_id: String,
    /// Always "server" today; kept as data because Mux modelled it as an enum.
    pub space_type: String,
    pub passthrough: Option<String>,
    pub status: SpaceStatus,
    /// Present only while active; a new one for every idle-to-active transition.
    pub active_session_id: Option<String>,
    pub created_at: i64,
}

/// What happened to a request to delete a space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpaceDeletion {
    Deleted,
    NotFound,
    /// Spaces can be deleted only while idle.
    StillActive,
}

/// Someone who may sign in to the dashboard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DashboardUser {
    pub id: String,
    pub email: String,
    /// PHC string of a slow password hash.
    pub password_hash: String,
    pub created_at: i64,
}

/// A signed-in browser, known by the SHA-256 (hex) of the id its cookie carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DashboardSession {
    pub id_hash: String,
    pub user_id: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// The signing key the dashboard holds for an environment, with its private half (PEM).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DashboardJoinKey {
    pub key_id: String,
    pub private_key_pem: String,
}

/// A participant's rating of a session's call quality (1 bad .. 5 excellent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRating {
    pub environment_id: String,
    pub space_id: String,
    /// The space's active or last session when the rating arrived.
    pub session_id: String,
    pub participant_id: String,
    /// As the client reported them (unverified).
    pub connection_id: Option<String>,
    pub reported_session_id: Option<String>,
    pub score: u8,
    pub created_at: i64,
}
