//! Active speakers: polled from audio levels and announced to everyone.

use super::*;

impl Space {
    pub(super) fn poll_speakers(&mut self, now: Instant) {
        let has_audio = self
            .producers
            .values()
            .any(|p| p.track.kind == TrackKind::Audio);
        let changed = self.speakers.poll(now).map(<[ProducerId]>::to_vec);
        self.next_speaker_poll = if has_audio {
            Some(
                self.speakers
                    .poll_timeout()
                    .unwrap_or(now + SPEAKER_INTERVAL)
                    .max(now + Duration::from_millis(20)),
            )
        } else {
            None
        };
        let Some(speakers) = changed else {
            return;
        };
        for id in &speakers {
            if let Some(producer) = self.producers.get_mut(id) {
                producer.last_spoke_at = Some(now);
            }
        }
        if speakers == self.announced_speakers {
            return;
        }
        self.announced_speakers = speakers;
        let message = ServerMessage::ActiveSpeakers(self.speaker_tracks());
        let keys: Vec<ConnectionKey> = self.connections.keys().copied().collect();
        for key in keys {
            self.signal(key, message.clone());
        }
        // Who speaks decides who is forwarded in automatic mode.
        self.update_subscriptions(now);
    }

    /// The announced speakers as `(connection_id, track_id)`, loudest first.
    pub(super) fn speaker_tracks(&self) -> Vec<(String, String)> {
        self.announced_speakers
            .iter()
            .filter_map(|id| {
                let producer = self.producers.get(id)?;
                let connection = self.connections.get(&producer.connection)?;
                Some((connection.connection_id.clone(), producer.track.tid.clone()))
            })
            .collect()
    }

    /// The current `active_speakers` message, when anyone speaks.
    pub(super) fn active_speaker_list(&self) -> Option<ServerMessage> {
        let tracks = self.speaker_tracks();
        (!tracks.is_empty()).then_some(ServerMessage::ActiveSpeakers(tracks))
    }
}
