//! Broadcasts as the store keeps them: a space composed into a live stream.

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Broadcast {
    pub id: String,
    pub space_id: String,
    pub live_stream_id: String,
    /// Toggled by start and stop; back to idle when its space goes idle.
    pub active: bool,
    /// "gallery", "active-speaker" or "crop".
    pub layout: String,
    /// One of Mux's six, such as "1920x1080".
    pub resolution: String,
    /// URL of an image under the tiles.
    pub background: Option<String>,
    pub passthrough: Option<String>,
    pub created_at: i64,
}

/// What became of a request to start or stop a broadcast.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BroadcastChange {
    /// It changed state.
    Changed,
    /// It was in that state already.
    Unchanged,
    /// No such broadcast in that space of the environment.
    NotFound,
    /// Start only: the space is idle (nobody connected).
    SpaceIdle,
    /// Start only: its live stream is gone or disabled.
    LiveStreamUnavailable,
}

/// What became of a request to create a broadcast.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BroadcastInsert {
    Inserted,
    SpaceNotFound,
    /// The space has `max_per_space` broadcasts already.
    LimitReached,
    LiveStreamNotFound,
}

/// What became of a request to delete a broadcast.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BroadcastDeletion {
    Deleted,
    NotFound,
    /// Broadcasts can be deleted only while idle.
    StillActive,
}
