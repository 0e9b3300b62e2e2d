//! The JSON shape of Mux's live-stream objects, built from stored ones.

use crate::{LiveStream, PlaybackId, SimulcastTarget};
use serde::Serialize;
use serde_json::Value;

#[derive(Serialize)]
pub struct LiveStreamView {
    pub id: String,
    pub created_at: String,
    pub stream_key: String,
    pub status: &'static str,
    pub playback_ids: Vec<PlaybackIdView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passthrough: Option<String>,
    pub latency_mode: String,
    /// Mux's older flag for `latency_mode: "reduced"`, still sent by its API.
    pub reduced_latency: bool,
    pub reconnect_window: f64,
    pub max_continuous_duration: i64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub test: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_asset_settings: Option<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub simulcast_targets: Vec<SimulcastTargetView>,
}

#[derive(Serialize)]
pub struct PlaybackIdView {
    pub id: String,
    pub policy: String,
}

#[derive(Serialize)]
pub struct SimulcastTargetView {
    pub id: String,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passthrough: Option<String>,
    pub status: String,
}

impl From<LiveStream> for LiveStreamView {
    fn from(stream: LiveStream) -> Self {
        Self {
            id: stream.id,
            created_at: stream.created_at.to_string(),
            stream_key: stream.stream_key,
            status: stream.status.as_str(),
            playback_ids: stream
                .playback_ids
                .into_iter()
                .map(PlaybackIdView::from)
                .collect(),
            passthrough: stream.passthrough.filter(|p| !p.is_empty()),
            reduced_latency: stream.latency_mode == "reduced",
            latency_mode: stream.latency_mode,
            reconnect_window: stream.reconnect_window,
            max_continuous_duration: stream.max_continuous_duration,
            test: stream.test,
            new_asset_settings: stream
                .new_asset_settings
                .and_then(|json| serde_json::from_str(&json).ok()),
            simulcast_targets: stream
                .simulcast_targets
                .into_iter()
                .map(SimulcastTargetView::from)
                .collect(),
        }
    }
}

impl From<PlaybackId> for PlaybackIdView {
    fn from(playback_id: PlaybackId) -> Self {
        Self {
            id: playback_id.id,
            policy: playback_id.policy,
        }
    }
}

impl From<SimulcastTarget> for SimulcastTargetView {
    fn from(target: SimulcastTarget) -> Self {
        Self {
            id: target.id,
            url: target.url,
            stream_key: target.stream_key,
            passthrough: target.passthrough.filter(|p| !p.is_empty()),
            status: target.status,
        }
    }
}
