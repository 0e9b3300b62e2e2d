//! A participant's connection: who it is and what it may do. Media lives in its peers.

use std::collections::HashMap;
use std::time::Instant;

use oriel_proto::{Participant, ParticipantRole, ParticipantStatus, PendingTrack};

use crate::ConnectionKey;

/// How a connection wants its subscriptions managed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SubscriptionMode {
    /// The server picks at most this many participants to forward.
    Automatic(usize),
    /// The client names participants with `subscribe_tracks`.
    Manual,
}

pub(crate) struct Connection {
    pub(crate) key: ConnectionKey,
    pub(crate) connection_id: String,
    pub(crate) participant_id: String,
    pub(crate) role: ParticipantRole,
    pub(crate) display_name: String,
    pub(crate) joined_at: Instant,
    pub(crate) subscription_mode: SubscriptionMode,
    /// Transceivers announced by `pending_track`, by mid, until an offer carries them.
    pub(crate) pending_tracks: HashMap<String, PendingTrack>,
    /// Tids muted with `mute_track` while still pending: the SDK thought them published, so
    /// the others get a `track_muted` once they are.
    pub(crate) muted_while_pending: Vec<String>,
    /// Manual mode: connections this one asked for.
    pub(crate) manual_subscriptions: Vec<ConnectionKey>,
    /// Token bucket for custom events: tokens left and when it was last refilled.
    pub(crate) custom_event_tokens: f64,
    pub(crate) custom_event_refill_at: Instant,
    pub(crate) last_display_name_change: Option<Instant>,
    /// Seen by no one (a broadcast's compositor): never announced, never listed.
    pub(crate) hidden: bool,
    /// A mirror of a connection on another shard of the space (see `crate::shard`): known
    /// for signaling and subscriptions, signaled and driven by its own shard.
    pub(crate) remote: bool,
    /// The publisher connection built ahead of its first offer (see `PreparedPeers`).
    pub(crate) prepared_publisher: Option<str0m::Rtc>,
}

impl Connection {
    /// The mirror of another shard's connection.
    pub(crate) fn mirror(remote: crate::RemoteConnection) -> Self {
        Self {
            key: remote.key,
            connection_id: remote.connection_id,
            participant_id: remote.participant_id,
            role: remote.role,
            display_name: remote.display_name,
            joined_at: remote.joined_at,
            subscription_mode: SubscriptionMode::Manual,
            pending_tracks: HashMap::new(),
            muted_while_pending: Vec::new(),
            manual_subscriptions: Vec::new(),
            custom_event_tokens: 0.0,
            custom_event_refill_at: remote.joined_at,
            last_display_name_change: None,
            hidden: remote.hidden,
            remote: true,
            prepared_publisher: None,
        }
    }

    /// What the other shards need to mirror this connection.
    pub(crate) fn to_remote(&self) -> crate::RemoteConnection {
        crate::RemoteConnection {
            key: self.key,
            connection_id: self.connection_id.clone(),
            participant_id: self.participant_id.clone(),
            role: self.role,
            display_name: self.display_name.clone(),
            hidden: self.hidden,
            joined_at: self.joined_at,
        }
    }

    pub(crate) fn participant(&self, tracks: Vec<oriel_proto::Track>) -> Participant {
        Participant {
            connection_id: self.connection_id.clone(),
            participant_id: self.participant_id.clone(),
            role: self.role,
            status: ParticipantStatus::Connected,
            display_name: self.display_name.clone(),
            tracks,
        }
    }

    /// Takes one custom-event token; false when the sender is over its rate.
    pub(crate) fn take_custom_event_token(&mut self, now: Instant, per_second: u32) -> bool {
        let per_second = f64::from(per_second.max(1));
        let elapsed = now
            .saturating_duration_since(self.custom_event_refill_at)
            .as_secs_f64();
        self.custom_event_tokens =
            (self.custom_event_tokens + elapsed * per_second).min(per_second);
        self.custom_event_refill_at = now;
        if self.custom_event_tokens >= 1.0 {
            self.custom_event_tokens -= 1.0;
            true
        } else {
            false
        }
    }
}
