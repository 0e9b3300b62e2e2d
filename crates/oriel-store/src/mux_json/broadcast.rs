//! The JSON shape of Mux's broadcast objects, embedded in spaces and answered on their own.

use crate::Broadcast;
use serde::Serialize;

#[derive(Serialize)]
pub struct BroadcastView {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passthrough: Option<String>,
    pub live_stream_id: String,
    pub status: &'static str,
    pub layout: String,
    pub resolution: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub background: Option<String>,
}

impl From<Broadcast> for BroadcastView {
    fn from(broadcast: Broadcast) -> Self {
        Self {
            id: broadcast.id,
            passthrough: broadcast.passthrough.filter(|p| !p.is_empty()),
            live_stream_id: broadcast.live_stream_id,
            status: if broadcast.active { "active" } else { "idle" },
            layout: broadcast.layout,
            resolution: broadcast.resolution,
            background: broadcast.background,
        }
    }
}
