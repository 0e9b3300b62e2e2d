//! The JSON shapes of Mux's objects, built from stored ones.

use oriel_store::{Broadcast, SigningKey, Space};
use serde::Serialize;

use crate::broadcast_view::BroadcastView;

#[derive(Serialize)]
pub struct SpaceView {
    pub id: String,
    /// Mux sends unix seconds as a string.
    pub created_at: String,
    #[serde(rename = "type")]
    pub space_type: String,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passthrough: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_session_id: Option<String>,
    /// Mux embeds a space's broadcasts (there is no list endpoint); omitted when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub broadcasts: Vec<BroadcastView>,
}

impl SpaceView {
    pub fn with_broadcasts(mut self, broadcasts: Vec<Broadcast>) -> Self {
        self.broadcasts = broadcasts.into_iter().map(BroadcastView::from).collect();
        self
    }
}

impl From<Space> for SpaceView {
    fn from(space: Space) -> Self {
        Self {
            id: space.id,
            created_at: space.created_at.to_string(),
            space_type: space.space_type,
            status: space.status.as_str(),
            passthrough: space.passthrough.filter(|p| !p.is_empty()),
            active_session_id: space.active_session_id,
            broadcasts: Vec::new(),
        }
    }
}

#[derive(Serialize)]
pub struct SigningKeyView {
    pub id: String,
    pub created_at: String,
    /// Only in the response that creates the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_key: Option<String>,
}

impl From<SigningKey> for SigningKeyView {
    fn from(key: SigningKey) -> Self {
        Self {
            id: key.id,
            created_at: key.created_at.to_string(),
            private_key: None,
        }
    }
}

/// Mux's success envelope: `{"data": ...}`.
#[derive(Serialize)]
pub struct Data<T> {
    pub data: T,
}

impl<T> Data<T> {
    pub fn json(data: T) -> axum::Json<Self> {
        axum::Json(Self { data })
    }
}
