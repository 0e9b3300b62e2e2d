//! Who is connected to which space on this node, and the space's active/idle life cycle.
//!
//! The first participant in makes the space active with a fresh session id; the last one out
//! makes it idle. Admissions and departures are serialised by one async lock so that two
//! simultaneous joins with the same `participant_id` cannot both get in, and so that the store
//! sees activate/deactivate in order. This is control-plane work, never on a media path.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use oriel_store::{new_id, Store, StoreError};
use tokio::sync::{Mutex, Notify};

pub struct Presence {
    store: Arc<dyn Store>,
    spaces: Mutex<HashMap<String, SpacePresence>>,
    /// Cleared when this node hands over to a successor: its participants are about to
    /// reconnect there, so the spaces they leave here are not idle.
    writes_status: AtomicBool,
}

struct SpacePresence {
    session_id: String,
    /// By participant id.
    members: HashMap<String, Member>,
}

struct Member {
    connection_id: String,
    /// SHA-256 of the join token: only the same token may take over a participant id.
    token_digest: [u8; 32],
    kicked: Arc<Notify>,
    moved: Arc<Notify>,
}

/// A participant admitted to a space; hand it back to [`Presence::leave`].
#[derive(Debug)]
pub struct Membership {
    pub space_id: String,
    pub session_id: String,
    pub participant_id: String,
    pub connection_id: String,
    /// Notified when a reconnection of the same participant replaces this connection.
    pub kicked: Arc<Notify>,
    /// Notified when another node of the cluster holds the space now: the connection closes
    /// so that the SDK reconnects there.
    pub moved: Arc<Notify>,
    /// A participant no one sees (a broadcast's compositor): it neither makes the space
    /// active nor keeps it so, and is not counted here at all.
    pub hidden: bool,
}

/// Who wants in.
pub struct Admission<'a> {
    pub space_id: &'a str,
    /// From the token; generated when absent.
    pub participant_id: Option<&'a str>,
    /// The SDK's `reconnect_id`: the participant id its previous connection had.
    pub reconnect_id: Option<&'a str>,
    pub token_digest: [u8; 32],
    pub hidden: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum PresenceRefusal {
    #[error("a participant with this participant_id is already connected to the space")]
    DuplicateParticipant,
    #[error("the space no longer exists")]
    SpaceGone,
    #[error("a hidden participant joins only a space someone is in")]
    SpaceIdle,
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl Presence {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            spaces: Mutex::new(HashMap::new()),
            writes_status: AtomicBool::new(true),
        }
    }

    /// Spaces with someone in them, and the visible participants in all of them.
    pub async fn counts(&self) -> (usize, usize) {
        let spaces = self.spaces.lock().await;
        (spaces.len(), spaces.values().map(|s| s.members.len()).sum())
    }

    /// The spaces with someone in them.
    pub async fn space_ids(&self) -> Vec<String> {
        self.spaces.lock().await.keys().cloned().collect()
    }

    /// Lets go of a space another node of the cluster holds now (this node was thought gone):
    /// its participants here are told to reconnect (to that node), and their leaving writes
    /// nothing, since the space goes on there.
    pub async fn hand_off(&self, space_id: &str) {
        if let Some(present) = self.spaces.lock().await.remove(space_id) {
            for member in present.members.values() {
                member.moved.notify_one();
            }
        }
    }

    /// Marks a space idle if nobody is in it here; in a cluster, for a space its node left
    /// active (the caller holds the space's placement, so no join is admitted meanwhile).
    /// Whether it was marked.
    pub async fn deactivate_if_absent(&self, space_id: &str) -> Result<bool, StoreError> {
        let spaces = self.spaces.lock().await;
        if spaces.contains_key(space_id) {
            return Ok(false);
        }
        self.store.deactivate_space(space_id).await?;
        Ok(true)
    }

    pub async fn join(&self, admission: Admission<'_>) -> Result<Membership, PresenceRefusal> {
        // A reconnecting SDK names its old participant id; without an id in the token that
        // keeps its identity, with one the token's id rules.
        let participant_id = admission
            .participant_id
            .or(admission.reconnect_id)
            .map(str::to_owned);
        let reconnecting =
            admission.reconnect_id.is_some() && admission.reconnect_id == participant_id.as_deref();
        let mut spaces = self.spaces.lock().await;
        if admission.hidden {
            let present = spaces
                .get(admission.space_id)
                .ok_or(PresenceRefusal::SpaceIdle)?;
            return Ok(Membership {
                space_id: admission.space_id.to_owned(),
                session_id: present.session_id.clone(),
                participant_id: participant_id.unwrap_or_else(new_id),
                connection_id: new_id(),
                kicked: Arc::new(Notify::new()),
                moved: Arc::new(Notify::new()),
                hidden: true,
            });
        }
        if let Some(present) = spaces.get_mut(admission.space_id) {
            if let Some(id) = &participant_id {
                if let Some(existing) = present.members.get(id) {
                    // The same token reconnecting replaces its stale connection; anyone else
                    // is a duplicate.
                    if !(reconnecting && existing.token_digest == admission.token_digest) {
                        return Err(PresenceRefusal::DuplicateParticipant);
                    }
                    existing.kicked.notify_one();
                    present.members.remove(id);
                }
            }
        } else {
            let session_id = self.start_or_join_session(admission.space_id).await?;
            spaces.insert(
                admission.space_id.to_owned(),
                SpacePresence {
                    session_id,
                    members: HashMap::new(),
                },
            );
        }
        let present = spaces
            .get_mut(admission.space_id)
            .expect("the space was found or inserted above, under the same lock");
        let participant_id = participant_id.unwrap_or_else(new_id);
        let connection_id = new_id();
        let kicked = Arc::new(Notify::new());
        let moved = Arc::new(Notify::new());
        present.members.insert(
            participant_id.clone(),
            Member {
                connection_id: connection_id.clone(),
                token_digest: admission.token_digest,
                kicked: kicked.clone(),
                moved: moved.clone(),
            },
        );
        let membership = Membership {
            space_id: admission.space_id.to_owned(),
            session_id: present.session_id.clone(),
            participant_id,
            connection_id,
            kicked,
            moved,
            hidden: false,
        };
        // A reconnection is the same participant going on: only a fresh join is told.
        if admission.reconnect_id.is_none() {
            self.tell(&membership, "video.space.participant.joined")
                .await;
        }
        Ok(membership)
    }

    /// Writes a participant webhook event; a failure to is logged, never refuses the join.
    async fn tell(&self, membership: &Membership, event_type: &str) {
        let data = serde_json::json!({
            "space_id": membership.space_id,
            "session_id": membership.session_id,
            "participant_id": membership.participant_id,
            "connection_id": membership.connection_id,
        });
        if let Err(error) = self
            .store
            .record_participant_event(&membership.space_id, event_type, &data)
            .await
        {
            tracing::error!(%error, space_id = %membership.space_id, "could not write a participant event");
        }
    }

    /// Activates the space with a new session; if it is already active, joins that session
    /// instead: during a handover the old node still has it active with participants that
    /// are about to reconnect here.
    async fn start_or_join_session(&self, space_id: &str) -> Result<String, PresenceRefusal> {
        let session_id = new_id();
        // Twice at most: the space may go idle between the two statements.
        for _ in 0..2 {
            if self.store.activate_space(space_id, &session_id).await? {
                return Ok(session_id);
            }
            if let Some(active) = self.store.active_session_id(space_id).await? {
                return Ok(active);
            }
        }
        Err(PresenceRefusal::SpaceGone)
    }

    /// Stops writing spaces' status: the node hands its participants over to a successor.
    pub fn hand_over(&self) {
        self.writes_status.store(false, Ordering::SeqCst);
    }

    /// Marks idle every space the store says is active but that has no participant here;
    /// a node that took over does so once the node before it is gone. Returns how many.
    pub async fn reconcile(&self) -> Result<usize, StoreError> {
        let spaces = self.spaces.lock().await;
        let mut stale = 0;
        for space_id in self.store.active_space_ids().await? {
            if !spaces.contains_key(&space_id) {
                self.store.deactivate_space(&space_id).await?;
                stale += 1;
            }
        }
        Ok(stale)
    }

    pub async fn leave(&self, membership: &Membership) {
        if membership.hidden {
            return;
        }
        let mut spaces = self.spaces.lock().await;
        let Some(present) = spaces.get_mut(&membership.space_id) else {
            return;
        };
        // A replaced connection leaves nothing: its successor holds the participant id.
        if present
            .members
            .get(&membership.participant_id)
            .is_some_and(|m| m.connection_id == membership.connection_id)
        {
            present.members.remove(&membership.participant_id);
            // Leaving for a successor node is not leaving the space.
            if self.writes_status.load(Ordering::SeqCst) {
                self.tell(membership, "video.space.participant.left").await;
            }
        }
        let Some(present) = spaces.get(&membership.space_id) else {
            return;
        };
        if present.members.is_empty() {
            spaces.remove(&membership.space_id);
            if !self.writes_status.load(Ordering::SeqCst) {
                return;
            }
            if let Err(error) = self.store.deactivate_space(&membership.space_id).await {
                tracing::error!(%error, space_id = %membership.space_id, "could not mark space idle");
            }
        }
    }

    /// Marks every space this node holds idle; called at shutdown.
    pub async fn clear(&self) {
        let mut spaces = self.spaces.lock().await;
        if !self.writes_status.load(Ordering::SeqCst) {
            spaces.clear();
            return;
        }
        for (space_id, _) in spaces.drain() {
            if let Err(error) = self.store.deactivate_space(&space_id).await {
                tracing::error!(%error, %space_id, "could not mark space idle at shutdown");
            }
        }
    }
}
