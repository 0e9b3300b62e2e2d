//! Who receives what: producers appearing and going, automatic and manual subscriptions,
//! and the offers that carry them to subscribers.

use super::*;

impl Space {
    pub(super) fn on_subscribe(
        &mut self,
        now: Instant,
        key: ConnectionKey,
        requests: Vec<SubscriptionRequest>,
        subscribe: bool,
    ) {
        let manual = self
            .connections
            .get(&key)
            .is_some_and(|c| c.subscription_mode == SubscriptionMode::Manual);
        let mut successes = Vec::new();
        let mut failures = Vec::new();
        for request in requests {
            let target = self
                .connections
                .values()
                .find(|c| c.connection_id == request.connection_id && c.key != key)
                .map(|c| c.key);
            let Some(target) = target.filter(|_| manual) else {
                failures.push(request.connection_id);
                continue;
            };
            let wanted: Vec<ProducerId> = self
                .producers
                .values()
                .filter(|p| p.connection == target)
                .filter(|p| {
                    request.track_ids.is_empty() || request.track_ids.contains(&p.track.tid)
                })
                .map(|p| p.id)
                .collect();
            if let Some(connection) = self.connections.get_mut(&key) {
                connection.manual_subscriptions.retain(|k| *k != target);
                if subscribe {
                    connection.manual_subscriptions.push(target);
                }
            }
            if let Some(subscriber) = self.subscribers.get_mut(&key) {
                for producer in wanted {
                    if subscribe {
                        let p = &self.producers[&producer];
                        subscriber.subscribe(producer, media_kind(p.track.kind), &p.track.tid);
                        match request.max_height {
                            Some(height) => subscriber.max_heights.insert(producer, height),
                            None => subscriber.max_heights.remove(&producer),
                        };
                    } else {
                        subscriber.unsubscribe(producer);
                    }
                }
            }
            successes.push(request.connection_id);
        }
        let reply = if subscribe {
            ServerMessage::SubscribeTracks {
                successes,
                failures,
            }
        } else {
            ServerMessage::UnsubscribeTracks {
                successes,
                failures,
            }
        };
        self.signal(key, reply);
        self.attach_consumers(key);
        self.send_offers(now);
        // A new max_height moves the layers of videos already received.
        self.select_layers(now, key);
    }

    pub(super) fn on_media_added(&mut self, now: Instant, key: ConnectionKey, added: MediaAdded) {
        if added.direction != Direction::RecvOnly && added.direction != Direction::SendRecv {
            return;
        }
        let Some(connection) = self.connections.get_mut(&key) else {
            return;
        };
        let Some(pending) = connection.pending_tracks.remove(&added.mid.to_string()) else {
            tracing::info!(mid = %added.mid, "media without a pending_track; not forwarded");
            return;
        };
        if media_kind(pending.kind) != added.kind {
            return self.refuse(
                key,
                ErrorType::InvalidPendingTrack,
                "pending_track kind does not match the offer",
            );
        }
        // The same track republished by a reconnection replaces its stale predecessor.
        let stale: Vec<ProducerId> = self
            .producers
            .values()
            .filter(|p| p.track.tid == pending.tid)
            .map(|p| p.id)
            .collect();
        for producer in stale {
            self.remove_producer(producer, true);
        }
        let Some(connection) = self.connections.get_mut(&key) else {
            return;
        };
        let id = ProducerId::new(self.config.shard, self.next_producer);
        self.next_producer += 1;
        let track = Track {
            tid: pending.tid,
            kind: pending.kind,
            name: pending.name,
            muted: pending.muted,
            source: pending.source,
            width: pending.width,
            height: pending.height,
            metadata: Default::default(),
        };
        let announce_mute = {
            let before = connection.muted_while_pending.len();
            connection.muted_while_pending.retain(|t| *t != track.tid);
            track.muted && connection.muted_while_pending.len() != before
        };
        self.producers.insert(
            id,
            Producer::new(id, key, added.mid, track.clone(), added.simulcast.is_some()),
        );
        if let Some(publisher) = self.publishers.get_mut(&key) {
            publisher.by_mid.insert(added.mid, id);
        }
        tracing::info!(tid = %track.tid, source = ?track.source, "track published");
        self.relay(ShardEvent::TrackAdded(Box::new(RemoteTrack {
            producer: id,
            connection: key,
            track: track.clone(),
            simulcast: added.simulcast.is_some(),
            announce_mute,
        })));
        self.announce_track(key, track, announce_mute);
        self.update_subscriptions(now);
    }

    /// Tells everyone but its publisher of a new track (and that it is muted, when the
    /// publisher muted it while it was pending).
    pub(super) fn announce_track(&mut self, key: ConnectionKey, track: Track, announce_mute: bool) {
        let Some(connection_id) = self.connections.get(&key).map(|c| c.connection_id.clone())
        else {
            return;
        };
        self.signal_others(
            key,
            &ServerMessage::AddTrack {
                connection_id: connection_id.clone(),
                track: track.clone(),
            },
        );
        if announce_mute {
            // The publisher muted it after its SDK considered it published: the others see
            // the mute as an event too, not only as the state `add_track` carries.
            self.signal_others(
                key,
                &ServerMessage::TrackMuted {
                    connection_id,
                    track,
                },
            );
        }
    }

    pub(super) fn remove_producer(&mut self, id: ProducerId, announce: bool) {
        let Some(producer) = self.producers.remove(&id) else {
            return;
        };
        if !producer.remote {
            self.relay(ShardEvent::TrackRemoved {
                producer: id,
                announce,
            });
        }
        if let Some(publisher) = self.publishers.get_mut(&producer.connection) {
            publisher.forget(id);
        }
        for subscriber in self.subscribers.values_mut() {
            subscriber.unsubscribe(id);
        }
        self.speakers.remove(id);
        if announce {
            if let Some(connection_id) = self
                .connections
                .get(&producer.connection)
                .map(|c| c.connection_id.clone())
            {
                self.signal_others(
                    producer.connection,
                    &ServerMessage::RemoveTrack {
                        connection_id,
                        track: producer.track,
                    },
                );
            }
        }
    }

    /// The producers a connection in automatic mode should receive: every track of the
    /// participants chosen by priority (screen sharers, recent speakers, unmuted, earliest).
    pub(super) fn auto_subscription_targets(&self, key: ConnectionKey) -> Vec<ProducerId> {
        let Some(connection) = self.connections.get(&key) else {
            return Vec::new();
        };
        let SubscriptionMode::Automatic(limit) = connection.subscription_mode else {
            return Vec::new();
        };
        let candidates: Vec<oriel_media::Candidate<ConnectionKey>> = self
            .connections
            .values()
            .filter(|c| c.key != key)
            .filter(|c| self.producers.values().any(|p| p.connection == c.key))
            .map(|c| {
                let tracks = self.producers.values().filter(|p| p.connection == c.key);
                oriel_media::Candidate {
                    key: c.key,
                    is_screensharing: tracks.clone().any(|p| p.track.source.is_screen()),
                    last_spoke_at: tracks.clone().filter_map(|p| p.last_spoke_at).max(),
                    has_unmuted_tracks: tracks.clone().any(|p| !p.track.muted),
                    joined_at: c.joined_at,
                }
            })
            .collect();
        let current: Vec<ConnectionKey> = self
            .subscribers
            .get(&key)
            .map(|s| {
                self.producers
                    .values()
                    .filter(|p| s.is_subscribed(p.id))
                    .map(|p| p.connection)
                    .collect()
            })
            .unwrap_or_default();
        let mut chosen = Vec::new();
        oriel_media::subscription_priority::choose(&candidates, &current, limit, &mut chosen);
        self.producers
            .values()
            .filter(|p| chosen.contains(&p.connection))
            .map(|p| p.id)
            .collect()
    }

    /// Brings every subscriber's subscriptions up to date and sends the offers that follow.
    pub(super) fn update_subscriptions(&mut self, now: Instant) {
        let keys: Vec<ConnectionKey> = self.subscribers.keys().copied().collect();
        for key in keys {
            let Some(mode) = self.connections.get(&key).map(|c| c.subscription_mode) else {
                continue;
            };
            let wanted: Vec<ProducerId> = match mode {
                SubscriptionMode::Automatic(_) => self.auto_subscription_targets(key),
                SubscriptionMode::Manual => {
                    let targets = &self.connections[&key].manual_subscriptions;
                    self.producers
                        .values()
                        .filter(|p| targets.contains(&p.connection))
                        .filter(|p| {
                            // Manual subscribers name tracks; new tracks of a subscribed
                            // participant are requested by the SDK itself.
                            self.subscribers
                                .get(&key)
                                .is_some_and(|s| s.is_subscribed(p.id))
                        })
                        .map(|p| p.id)
                        .collect()
                }
            };
            let Some(subscriber) = self.subscribers.get_mut(&key) else {
                continue;
            };
            let stale: Vec<ProducerId> = subscriber
                .by_producer
                .keys()
                .copied()
                .filter(|p| !wanted.contains(p))
                .collect();
            for producer in stale {
                subscriber.unsubscribe(producer);
            }
            for producer in wanted {
                let p = &self.producers[&producer];
                subscriber.subscribe(producer, media_kind(p.track.kind), &p.track.tid);
            }
        }
        let keys: Vec<ConnectionKey> = self.subscribers.keys().copied().collect();
        for key in keys {
            self.attach_consumers(key);
        }
        self.send_offers(now);
    }

    /// Records on each producer which subscribers consume it, from the subscribers' state.
    pub(super) fn attach_consumers(&mut self, key: ConnectionKey) {
        let Some(subscriber) = self.subscribers.get(&key) else {
            return;
        };
        for producer in self.producers.values_mut() {
            let consumes = subscriber.by_producer.contains_key(&producer.id);
            let listed = producer.consumers.contains(&key);
            if consumes && !listed {
                producer.consumers.push(key);
            } else if !consumes && listed {
                producer.consumers.retain(|k| *k != key);
            }
        }
    }

    pub(super) fn send_offers(&mut self, now: Instant) {
        let keys: Vec<ConnectionKey> = self.subscribers.keys().copied().collect();
        for key in keys {
            let Some(subscriber) = self.subscribers.get_mut(&key) else {
                continue;
            };
            if let Some(sdp) = subscriber.next_offer(now) {
                let sfu_id = subscriber.sfu_id.clone();
                self.attach_consumers(key);
                self.signal(key, ServerMessage::SubOffer { sfu_id, sdp });
            }
        }
    }
}
