//! What participants ask for over signaling: joining and leaving, offers and answers,
//! tracks, mute, display names and custom events.

use super::*;

impl Space {
    pub(super) fn tracks_of(&self, connection: ConnectionKey) -> Vec<Track> {
        self.producers
            .values()
            .filter(|p| p.connection == connection)
            .map(|p| p.track.clone())
            .collect()
    }

    pub fn join(&mut self, now: Instant, request: JoinRequest) {
        self.join_prepared(now, request, None);
    }

    /// [`Self::join`] on connections built ahead, off the worker's thread.
    pub fn join_prepared(
        &mut self,
        now: Instant,
        request: JoinRequest,
        peers: Option<crate::PreparedPeers>,
    ) {
        let (prepared_subscriber, prepared_publisher) = match peers {
            Some(peers) => (Some(peers.subscriber), peers.publisher),
            None => (None, None),
        };
        let key = request.connection;
        // A reconnection that took over this participant id: its old connection goes first, so
        // that the others hear "left" before "joined", as for any reconnection.
        let replaced: Vec<ConnectionKey> = self
            .connections
            .values()
            .filter(|c| !c.remote && c.participant_id == request.participant_id && c.key != key)
            .map(|c| c.key)
            .collect();
        for old in replaced {
            self.leave(now, old);
        }
        let subscription_mode = match request.managed_subscriptions {
            0 => SubscriptionMode::Manual,
            n => SubscriptionMode::Automatic(usize::from(n.min(20))),
        };
        let connection = Connection {
            key,
            connection_id: request.connection_id.clone(),
            participant_id: request.participant_id.clone(),
            role: request.role,
            display_name: request.display_name.clone(),
            joined_at: now,
            subscription_mode,
            pending_tracks: HashMap::new(),
            muted_while_pending: Vec::new(),
            manual_subscriptions: Vec::new(),
            custom_event_tokens: f64::from(self.config.limits.custom_events_per_second),
            custom_event_refill_at: now,
            last_display_name_change: None,
            hidden: request.hidden,
            remote: false,
            prepared_publisher,
        };
        self.relay(ShardEvent::Joined(Box::new(connection.to_remote())));
        let participants = self
            .connections
            .values()
            .filter(|other| !other.hidden)
            .map(|other| other.participant(self.tracks_of(other.key)))
            .collect();
        let announcement = ServerMessage::ParticipantConnected(connection.participant(Vec::new()));
        if self.connections.insert(key, connection).is_none() {
            self.local_connections += 1;
        }

        let sfu_id = format!("oriel-{}", key.0);
        let mut subscriber = SubscriberPc::new(
            &self.config.candidates,
            prepared_subscriber,
            sfu_id.clone(),
            now,
        );
        for producer in self.auto_subscription_targets(key) {
            let p = &self.producers[&producer];
            subscriber.subscribe(producer, media_kind(p.track.kind), &p.track.tid);
        }
        let offer = subscriber.initial_offer(now);
        self.subscribers.insert(key, subscriber);
        self.attach_consumers(key);

        let joined = Joined {
            session_id: request.session_id,
            connection_id: request.connection_id,
            participant_id: request.participant_id,
            display_name: request.display_name,
            broadcasting: self.broadcasting,
            participants,
            sub_sfus: offer
                .map(|sdp| SubSfu { sfu_id, sdp })
                .into_iter()
                .collect(),
            simulcast: self.config.simulcast(),
            ice_servers: request.ice_servers,
            limits: self.config.limits,
            watchrtc_token: String::new(),
        };
        self.signal(key, ServerMessage::Joined(Box::new(joined)));
        // Whoever speaks already is news to the joiner: the list only goes out on changes.
        if let Some(speakers) = self.active_speaker_list() {
            self.signal(key, speakers);
        }
        if !request.hidden {
            self.signal_others(key, &announcement);
        }
        self.drive_all(now);
    }

    pub fn leave(&mut self, now: Instant, key: ConnectionKey) {
        let Some(connection) = self.connections.remove(&key) else {
            return;
        };
        if !connection.remote {
            self.local_connections -= 1;
            self.relay(ShardEvent::Left { connection: key });
        }
        if let Some(mut publisher) = self.publishers.remove(&key) {
            publisher.peer.close();
        }
        if let Some(mut subscriber) = self.subscribers.remove(&key) {
            subscriber.peer.close();
        }
        self.routes.retain(|_, peer| peer.connection != key);
        self.dirty.retain(|k| *k != key);
        let producers: Vec<ProducerId> = self
            .producers
            .values()
            .filter(|p| p.connection == key)
            .map(|p| p.id)
            .collect();
        for producer in producers {
            self.remove_producer(producer, false);
        }
        for other in self.producers.values_mut() {
            other.consumers.retain(|k| *k != key);
        }
        for other in self.connections.values_mut() {
            other.manual_subscriptions.retain(|k| *k != key);
        }
        // The speaker list without the departed goes first: the Mux SDK diffs each list against
        // the last one and looks up whoever stopped speaking, which fails once they are gone.
        let announced = self.announced_speakers.len();
        self.announced_speakers
            .retain(|id| self.producers.contains_key(id));
        if self.announced_speakers.len() != announced {
            let speakers = ServerMessage::ActiveSpeakers(self.speaker_tracks());
            self.signal_others(key, &speakers);
        }
        if !connection.hidden {
            self.signal_others(
                key,
                &ServerMessage::ParticipantDisconnected {
                    connection_id: connection.connection_id,
                },
            );
        }
        self.update_subscriptions(now);
        self.drive_all(now);
    }

    pub fn handle_message(&mut self, now: Instant, key: ConnectionKey, message: ClientMessage) {
        if self.connections.get(&key).is_none_or(|c| c.remote) {
            return;
        }
        match message {
            ClientMessage::Offer(sdp) => self.on_offer(now, key, &sdp),
            ClientMessage::SubAnswer { sfu_id: _, sdp } => self.on_sub_answer(now, key, &sdp),
            ClientMessage::Candidate {
                candidate, target, ..
            } => {
                let Ok(candidate) = Candidate::from_sdp_string(&candidate.candidate) else {
                    tracing::debug!("ignoring an unparsable ICE candidate");
                    return;
                };
                let peer = match target {
                    oriel_proto::CandidateTarget::Publisher => {
                        self.publishers.get_mut(&key).map(|p| &mut p.peer)
                    }
                    oriel_proto::CandidateTarget::Subscriber => {
                        self.subscribers.get_mut(&key).map(|s| &mut s.peer)
                    }
                };
                if let Some(peer) = peer {
                    peer.rtc.add_remote_candidate(candidate);
                    peer.touch(now);
                }
            }
            ClientMessage::PendingTrack(track) => self.on_pending_track(key, track),
            ClientMessage::MuteTrack(tid) => self.on_mute(key, &tid, true),
            ClientMessage::UnmuteTrack(tid) => self.on_mute(key, &tid, false),
            ClientMessage::SubscribeTracks(requests) => self.on_subscribe(now, key, requests, true),
            ClientMessage::UnsubscribeTracks(requests) => {
                self.on_subscribe(now, key, requests, false)
            }
            ClientMessage::SetDisplayName { name, request_id } => {
                self.on_display_name(now, key, name, request_id)
            }
            ClientMessage::CustomEvent {
                id,
                payload,
                request_id,
            } => self.on_custom_event(now, key, id, payload, request_id),
        }
        self.drive_all(now);
    }

    pub(super) fn refuse(&mut self, key: ConnectionKey, error_type: ErrorType, message: &str) {
        self.signal(
            key,
            ServerMessage::Error(SignalError::Connection {
                error_type,
                message: message.to_owned(),
                fatal: false,
            }),
        );
    }

    pub(super) fn refuse_request(
        &mut self,
        key: ConnectionKey,
        error_type: RequestErrorType,
        message: &str,
        request_id: Option<String>,
    ) {
        self.signal(
            key,
            ServerMessage::Error(SignalError::Request {
                error_type,
                message: message.to_owned(),
                request_ids: request_id.into_iter().collect(),
            }),
        );
    }

    pub(super) fn is_publisher(&self, key: ConnectionKey) -> bool {
        self.connections
            .get(&key)
            .is_some_and(|c| c.role == ParticipantRole::Publisher)
    }

    pub(super) fn on_offer(&mut self, now: Instant, key: ConnectionKey, sdp: &str) {
        if !self.is_publisher(key) {
            return self.refuse(key, ErrorType::Unknown, "subscribers cannot publish tracks");
        }
        let candidates = &self.config.candidates;
        let prepared = self
            .connections
            .get_mut(&key)
            .and_then(|c| c.prepared_publisher.take());
        let publisher = self
            .publishers
            .entry(key)
            .or_insert_with(|| PublisherPc::new(candidates, prepared, now));
        match publisher.accept_offer(now, sdp) {
            Ok(answer) => {
                self.signal(key, ServerMessage::Answer(answer));
                self.drive_publisher(now, key);
            }
            Err(reason) => {
                tracing::info!(%reason, "publisher offer refused");
                self.refuse(key, ErrorType::Unknown, &reason);
            }
        }
    }

    pub(super) fn on_sub_answer(&mut self, now: Instant, key: ConnectionKey, sdp: &str) {
        let Some(subscriber) = self.subscribers.get_mut(&key) else {
            return;
        };
        if let Err(reason) = subscriber.accept_answer(now, sdp) {
            tracing::info!(%reason, "subscriber answer refused");
            return self.refuse(key, ErrorType::Unknown, &reason);
        }
        self.attach_consumers(key);
        self.send_offers(now);
    }

    pub(super) fn on_pending_track(&mut self, key: ConnectionKey, track: PendingTrack) {
        if !self.is_publisher(key) {
            return self.refuse(
                key,
                ErrorType::InvalidPendingTrack,
                "subscribers cannot publish tracks",
            );
        }
        if track.tid.is_empty() || track.tid.len() > 255 || track.mid.len() > 16 {
            return self.refuse(
                key,
                ErrorType::InvalidPendingTrack,
                "track id or mid is malformed",
            );
        }
        // A reconnecting SDK republishes its tracks under the same ids, possibly before its
        // old connection is gone: only another participant's track id is taken.
        let participant_id = self
            .connections
            .get(&key)
            .map(|c| c.participant_id.as_str());
        let owned_by_other = |owner: ConnectionKey| {
            self.connections
                .get(&owner)
                .map(|c| c.participant_id.as_str())
                != participant_id
        };
        let tid_taken = self
            .producers
            .values()
            .any(|p| p.track.tid == track.tid && owned_by_other(p.connection))
            || self.connections.values().any(|c| {
                c.key != key
                    && owned_by_other(c.key)
                    && c.pending_tracks.values().any(|t| t.tid == track.tid)
            });
        if tid_taken {
            return self.refuse(
                key,
                ErrorType::InvalidPendingTrack,
                "track id is already published in this space",
            );
        }
        let same_source = self
            .producers
            .values()
            .filter(|p| p.connection == key && p.track.source == track.source)
            .count();
        if same_source >= self.config.max_tracks_per_source {
            return self.refuse(
                key,
                ErrorType::InvalidPendingTrack,
                "too many tracks of this source",
            );
        }
        if let Some(connection) = self.connections.get_mut(&key) {
            connection.pending_tracks.insert(track.mid.clone(), track);
        }
    }

    pub(super) fn on_mute(&mut self, key: ConnectionKey, tid: &str, muted: bool) {
        // Muted before its offer was answered: the producer will start muted.
        if let Some(connection) = self.connections.get_mut(&key) {
            if let Some(pending) = connection
                .pending_tracks
                .values_mut()
                .find(|t| t.tid == tid)
            {
                connection.muted_while_pending.retain(|t| t != tid);
                if muted && !pending.muted {
                    connection.muted_while_pending.push(pending.tid.clone());
                }
                pending.muted = muted;
                return;
            }
        }
        let Some(producer) = self
            .producers
            .values_mut()
            .find(|p| p.connection == key && p.track.tid == tid)
        else {
            return;
        };
        producer.track.muted = muted;
        let producer_id = producer.id;
        self.relay(ShardEvent::TrackMuted {
            producer: producer_id,
            muted,
        });
        self.announce_mute(producer_id);
    }

    /// Tells everyone but its publisher that a track was muted or unmuted.
    pub(super) fn announce_mute(&mut self, producer: ProducerId) {
        let Some(producer) = self.producers.get(&producer) else {
            return;
        };
        let (key, muted) = (producer.connection, producer.track.muted);
        let Some(connection_id) = self.connections.get(&key).map(|c| c.connection_id.clone())
        else {
            return;
        };
        let track = producer.track.clone();
        let message = if muted {
            ServerMessage::TrackMuted {
                connection_id,
                track,
            }
        } else {
            ServerMessage::TrackUnmuted {
                connection_id,
                track,
            }
        };
        // Never to the muter: the SDK throws on a mute event about itself.
        self.signal_others(key, &message);
    }

    pub(super) fn on_display_name(
        &mut self,
        now: Instant,
        key: ConnectionKey,
        name: String,
        request_id: Option<String>,
    ) {
        let cooldown =
            Duration::from_secs(u64::from(self.config.limits.seconds_per_set_display_name));
        let Some(connection) = self.connections.get_mut(&key) else {
            return;
        };
        if name.is_empty() || name.chars().count() > MAX_DISPLAY_NAME_CHARS {
            return self.refuse_request(
                key,
                RequestErrorType::SetDisplayNameError,
                "display name must be 1 to 64 characters",
                request_id,
            );
        }
        if connection
            .last_display_name_change
            .is_some_and(|at| now.saturating_duration_since(at) < cooldown)
        {
            return self.refuse_request(
                key,
                RequestErrorType::SetDisplayNameRateLimited,
                "display name changed too recently",
                request_id,
            );
        }
        connection.last_display_name_change = Some(now);
        connection.display_name = name.clone();
        let connection_id = connection.connection_id.clone();
        self.relay(ShardEvent::DisplayNameChanged {
            connection: key,
            name: name.clone(),
        });
        self.signal_others(
            key,
            &ServerMessage::ParticipantUpdate {
                connection_id: connection_id.clone(),
                display_name: name.clone(),
                request_id: None,
            },
        );
        self.signal(
            key,
            ServerMessage::ParticipantUpdate {
                connection_id,
                display_name: name,
                request_id,
            },
        );
    }

    pub(super) fn on_custom_event(
        &mut self,
        now: Instant,
        key: ConnectionKey,
        id: String,
        payload: String,
        request_id: Option<String>,
    ) {
        if !self.is_publisher(key) {
            return self.refuse_request(
                key,
                RequestErrorType::CustomEventError,
                "subscribers cannot publish custom events",
                request_id,
            );
        }
        if payload.len() > MAX_CUSTOM_EVENT_BYTES {
            return self.refuse_request(
                key,
                RequestErrorType::CustomEventError,
                "custom event payload is larger than 4096 bytes",
                request_id,
            );
        }
        let per_second = self.config.limits.custom_events_per_second;
        let Some(connection) = self.connections.get_mut(&key) else {
            return;
        };
        if !connection.take_custom_event_token(now, per_second) {
            return self.refuse_request(
                key,
                RequestErrorType::CustomEventRateLimited,
                "custom events sent too fast",
                request_id,
            );
        }
        let connection_id = connection.connection_id.clone();
        self.custom_event_sequence += 1;
        let sequence_num = self.custom_event_sequence;
        self.relay(ShardEvent::CustomEvent {
            connection: key,
            id: id.clone(),
            payload: payload.clone(),
            sequence_num,
        });
        self.signal_others(
            key,
            &ServerMessage::CustomEvent {
                id: id.clone(),
                payload: payload.clone(),
                connection_id: connection_id.clone(),
                sequence_num,
                request_id: None,
            },
        );
        self.signal(
            key,
            ServerMessage::CustomEvent {
                id,
                payload,
                connection_id,
                sequence_num,
                request_id,
            },
        );
    }
}
