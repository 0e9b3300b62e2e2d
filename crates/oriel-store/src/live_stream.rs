//! Live streams as the store keeps them: a stream key, playback ids and simulcast targets.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiveStreamStatus {
    /// Nothing is feeding it.
    Idle,
    /// Media flows into it (a broadcast is running).
    Active,
    /// Refuses to go active until enabled again.
    Disabled,
}

impl LiveStreamStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "idle" => Some(Self::Idle),
            "active" => Some(Self::Active),
            "disabled" => Some(Self::Disabled),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlaybackId {
    pub id: String,
    /// "public" or "signed".
    pub policy: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimulcastTarget {
    pub id: String,
    /// An `rtmp://` or `rtmps://` URL.
    pub url: String,
    pub stream_key: Option<String>,
    pub passthrough: Option<String>,
    /// "idle", "starting", "broadcasting" or "errored".
    pub status: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LiveStream {
    pub id: String,
    pub environment_id: String,
    pub stream_key: String,
    pub status: LiveStreamStatus,
    pub passthrough: Option<String>,
    /// "low", "reduced" or "standard".
    pub latency_mode: String,
    /// Seconds an encoder may be gone before the stream counts as ended.
    pub reconnect_window: f64,
    pub max_continuous_duration: i64,
    pub test: bool,
    pub new_asset_settings: Option<String>,
    pub created_at: i64,
    pub completed_at: Option<i64>,
    /// Oldest first.
    pub playback_ids: Vec<PlaybackId>,
    /// Oldest first.
    pub simulcast_targets: Vec<SimulcastTarget>,
}
