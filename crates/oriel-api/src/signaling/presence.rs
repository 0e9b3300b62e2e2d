//! Who is connected to which space on this node, and the space's active/idle life cycle.
//!
//! The first participant in makes the space active with a fresh session id; the last one out
//! makes it idle. Joins and leaves are serialised by one async lock so that two simultaneous
//! joins with the same `participant_id` cannot both get in, and so that the store always sees
//! activate/deactivate in order. This is control-plane work, never on a media path.

use std::collections::HashMap;
use std::sync::Arc;

use oriel_jointoken::Role;
use oriel_store::{new_id, Store, StoreError};
use serde_json::Value;
use tokio::sync::Mutex;

use super::messages;

pub struct Presence {
    store: Arc<dyn Store>,
    spaces: Mutex<HashMap<String, SpacePresence>>,
}

struct SpacePresence {
    session_id: String,
    /// By participant id.
    members: HashMap<String, Member>,
}

struct Member {
    connection_id: String,
    role: Role,
    display_name: String,
}

/// A participant admitted to a space; hand it back to [`Presence::leave`].
#[derive(Debug)]
pub struct Membership {
    pub space_id: String,
    pub session_id: String,
    pub participant_id: String,
    pub connection_id: String,
    /// The others already in the space, as `joined` lists them.
    pub others: Vec<Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum PresenceRefusal {
    #[error("a participant with this participant_id is already connected to the space")]
    DuplicateParticipant,
    #[error("the space no longer exists")]
    SpaceGone,
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl Presence {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            spaces: Mutex::new(HashMap::new()),
        }
    }

    pub async fn join(
        &self,
        space_id: &str,
        participant_id: Option<String>,
        role: Role,
        display_name: String,
    ) -> Result<Membership, PresenceRefusal> {
        let mut spaces = self.spaces.lock().await;
        if let Some(present) = spaces.get(space_id) {
            if participant_id
                .as_ref()
                .is_some_and(|id| present.members.contains_key(id))
            {
                return Err(PresenceRefusal::DuplicateParticipant);
            }
        } else {
            let session_id = new_id();
            if !self.store.activate_space(space_id, &session_id).await? {
                return Err(PresenceRefusal::SpaceGone);
            }
            spaces.insert(
                space_id.to_owned(),
                SpacePresence {
                    session_id,
                    members: HashMap::new(),
                },
            );
        }
        let present = spaces
            .get_mut(space_id)
            .expect("the space was found or inserted above, under the same lock");
        // Without a participant_id from the token, every connection is its own participant.
        let participant_id = participant_id.unwrap_or_else(new_id);
        let connection_id = new_id();
        let others = present
            .members
            .iter()
            .map(|(id, member)| {
                messages::participant(&member.connection_id, id, member.role, &member.display_name)
            })
            .collect();
        present.members.insert(
            participant_id.clone(),
            Member {
                connection_id: connection_id.clone(),
                role,
                display_name,
            },
        );
        Ok(Membership {
            space_id: space_id.to_owned(),
            session_id: present.session_id.clone(),
            participant_id,
            connection_id,
            others,
        })
    }

    pub async fn leave(&self, membership: &Membership) {
        let mut spaces = self.spaces.lock().await;
        let Some(present) = spaces.get_mut(&membership.space_id) else {
            return;
        };
        if present
            .members
            .get(&membership.participant_id)
            .is_some_and(|m| m.connection_id == membership.connection_id)
        {
            present.members.remove(&membership.participant_id);
        }
        if present.members.is_empty() {
            spaces.remove(&membership.space_id);
            if let Err(error) = self.store.deactivate_space(&membership.space_id).await {
                tracing::error!(%error, space_id = %membership.space_id, "could not mark space idle");
            }
        }
    }

    /// Marks every space this node holds idle; called at shutdown.
    pub async fn clear(&self) {
        let mut spaces = self.spaces.lock().await;
        for (space_id, _) in spaces.drain() {
            if let Err(error) = self.store.deactivate_space(&space_id).await {
                tracing::error!(%error, %space_id, "could not mark space idle at shutdown");
            }
        }
    }
}
