//! The JSON shape of Mux's space objects, with their broadcasts embedded.

use serde::Serialize;

use super::BroadcastView;
use crate::{Broadcast, Space};

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
