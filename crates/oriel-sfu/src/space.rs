//! One space on one worker: the orchestration of connections, producers and consumers.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use oriel_proto::{
    ClientMessage, ErrorType, Joined, ParticipantRole, PendingTrack, RequestErrorType,
    ServerMessage, SignalError, SubSfu, SubscriptionRequest, Track, TrackKind,
    MAX_CUSTOM_EVENT_BYTES, MAX_DISPLAY_NAME_CHARS,
};
use str0m::bwe::{Bitrate, BweKind};
use str0m::media::{Direction, KeyframeRequestKind, MediaAdded, MediaKind};
use str0m::rtp::RtpPacket;
use str0m::{Candidate, Event};

use crate::config::{SpaceConfig, LAYERS};
use crate::connection::{Connection, SubscriptionMode};
use crate::ids::{PeerKey, PeerKind, ProducerId};
use crate::output::Output;
use crate::producer::{Producer, LAYER_COUNT};
use crate::publisher::PublisherPc;
use crate::subscriber::SubscriberPc;
use crate::ConnectionKey;

/// How often the list of active speakers may change.
const SPEAKER_INTERVAL: Duration = Duration::from_millis(200);
/// What an Opus track takes of a subscriber's bandwidth, at most.
const AUDIO_BPS: u64 = 64_000;
/// How often every subscriber's simulcast layers are reconsidered, beside bandwidth updates:
/// moving up needs the estimate to hold for a while, which only repeated looks can tell.
const LAYER_CHECK_INTERVAL: Duration = Duration::from_millis(500);

/// What one connection receives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionStats {
    /// The bandwidth estimate towards it, bits per second.
    pub egress_estimate_bps: u64,
    pub consumers: Vec<ConsumerStats>,
}

/// One track forwarded to a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerStats {
    pub tid: String,
    /// Simulcast layer forwarded now (0 lowest), if any yet.
    pub current_layer: Option<u8>,
    /// The layer it forwards or switches to at the next keyframe.
    pub wanted_layer: u8,
    pub packets_forwarded: u64,
}

/// An admitted connection, as the signaling layer hands it over.
#[derive(Clone, Debug)]
pub struct JoinRequest {
    pub connection: ConnectionKey,
    pub connection_id: String,
    pub participant_id: String,
    pub session_id: String,
    pub role: ParticipantRole,
    pub display_name: String,
    /// `managed_subscriptions` from the URL: 0 is manual mode, 1 to 20 automatic.
    pub managed_subscriptions: u8,
}

pub struct Space {
    config: SpaceConfig,
    connections: BTreeMap<ConnectionKey, Connection>,
    // Ordered maps: the same inputs give the same outputs, which simulation tests replay.
    publishers: BTreeMap<ConnectionKey, PublisherPc>,
    subscribers: BTreeMap<ConnectionKey, SubscriberPc>,
    producers: BTreeMap<ProducerId, Producer>,
    next_producer: u64,
    custom_event_sequence: u64,
    /// Source address of a validated peer, so datagrams skip the ICE scan.
    routes: HashMap<SocketAddr, PeerKey>,
    speakers: oriel_media::ActiveSpeakerDetector<ProducerId>,
    announced_speakers: Vec<ProducerId>,
    next_speaker_poll: Option<Instant>,
    next_layer_check: Option<Instant>,
    /// Subscribers written to since their last drain.
    dirty: Vec<ConnectionKey>,
    outputs: VecDeque<Output>,
}

impl Space {
    pub fn new(config: SpaceConfig) -> Self {
        Self {
            config,
            connections: BTreeMap::new(),
            publishers: BTreeMap::new(),
            subscribers: BTreeMap::new(),
            producers: BTreeMap::new(),
            next_producer: 1,
            custom_event_sequence: 0,
            routes: HashMap::new(),
            speakers: oriel_media::ActiveSpeakerDetector::new(Default::default()),
            announced_speakers: Vec::new(),
            next_speaker_poll: None,
            next_layer_check: None,
            dirty: Vec::new(),
            outputs: VecDeque::new(),
        }
    }

    /// What a connection receives: for tests, metrics and the dashboard.
    pub fn connection_stats(&self, key: ConnectionKey) -> Option<ConnectionStats> {
        let subscriber = self.subscribers.get(&key)?;
        let consumers = subscriber
            .consumers
            .iter()
            .filter(|c| c.is_open())
            .filter_map(|c| {
                let producer = self.producers.get(&c.producer)?;
                Some(ConsumerStats {
                    tid: producer.track.tid.clone(),
                    current_layer: c.current_layer(),
                    wanted_layer: c.wanted_layer(),
                    packets_forwarded: c.packets_forwarded,
                })
            })
            .collect();
        Some(ConnectionStats {
            egress_estimate_bps: subscriber.egress_estimate_bps,
            consumers,
        })
    }

    /// Who is connected and what they publish: for the dashboard.
    pub fn snapshot(&self, now: Instant) -> crate::SpaceSnapshot {
        let (c, p, s) = (&self.connections, &self.publishers, &self.subscribers);
        crate::snapshot::build(now, c, p, s, &self.producers)
    }

    pub fn is_empty(&self) -> bool {
        self.connections.is_empty()
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// The earliest moment [`Space::handle_timeout`] must run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let peers = self
            .publishers
            .values()
            .map(|p| &p.peer)
            .chain(self.subscribers.values().map(|s| &s.peer))
            .filter_map(|peer| peer.next_timeout());
        let keyframes = self
            .producers
            .values()
            .filter_map(|p| p.keyframes.poll_timeout());
        peers
            .chain(keyframes)
            .chain(self.next_speaker_poll)
            .chain(self.next_layer_check)
            .min()
    }

    fn signal(&mut self, connection: ConnectionKey, message: ServerMessage) {
        self.outputs.push_back(Output::Signal {
            connection,
            message,
        });
    }

    fn signal_others(&mut self, except: ConnectionKey, message: &ServerMessage) {
        let others: Vec<ConnectionKey> = self
            .connections
            .keys()
            .copied()
            .filter(|k| *k != except)
            .collect();
        for key in others {
            self.signal(key, message.clone());
        }
    }

    fn tracks_of(&self, connection: ConnectionKey) -> Vec<Track> {
        self.producers
            .values()
            .filter(|p| p.connection == connection)
            .map(|p| p.track.clone())
            .collect()
    }

    // ----- joining and leaving -----

    pub fn join(&mut self, now: Instant, request: JoinRequest) {
        let key = request.connection;
        // A reconnection that took over this participant id: its old connection goes first, so
        // that the others hear "left" before "joined", as for any reconnection.
        let replaced: Vec<ConnectionKey> = self
            .connections
            .values()
            .filter(|c| c.participant_id == request.participant_id && c.key != key)
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
            manual_subscriptions: Vec::new(),
            custom_event_tokens: f64::from(self.config.limits.custom_events_per_second),
            custom_event_refill_at: now,
            last_display_name_change: None,
        };
        let participants = self
            .connections
            .values()
            .map(|other| other.participant(self.tracks_of(other.key)))
            .collect();
        let announcement = ServerMessage::ParticipantConnected(connection.participant(Vec::new()));
        self.connections.insert(key, connection);

        let sfu_id = format!("oriel-{}", key.0);
        let mut subscriber = SubscriberPc::new(self.config.media_addr, sfu_id.clone(), now);
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
            broadcasting: false,
            participants,
            sub_sfus: offer
                .map(|sdp| SubSfu { sfu_id, sdp })
                .into_iter()
                .collect(),
            simulcast: self.config.simulcast(),
            ice_servers: Vec::new(),
            limits: self.config.limits,
            watchrtc_token: String::new(),
        };
        self.signal(key, ServerMessage::Joined(Box::new(joined)));
        // Whoever speaks already is news to the joiner: the list only goes out on changes.
        if let Some(speakers) = self.active_speaker_list() {
            self.signal(key, speakers);
        }
        self.signal_others(key, &announcement);
        self.drive_all(now);
    }

    pub fn leave(&mut self, now: Instant, key: ConnectionKey) {
        let Some(connection) = self.connections.remove(&key) else {
            return;
        };
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
        self.signal_others(
            key,
            &ServerMessage::ParticipantDisconnected {
                connection_id: connection.connection_id,
            },
        );
        self.update_subscriptions(now);
        self.drive_all(now);
    }

    // ----- signaling messages -----

    pub fn handle_message(&mut self, now: Instant, key: ConnectionKey, message: ClientMessage) {
        if !self.connections.contains_key(&key) {
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

    fn refuse(&mut self, key: ConnectionKey, error_type: ErrorType, message: &str) {
        self.signal(
            key,
            ServerMessage::Error(SignalError::Connection {
                error_type,
                message: message.to_owned(),
                fatal: false,
            }),
        );
    }

    fn refuse_request(
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

    fn is_publisher(&self, key: ConnectionKey) -> bool {
        self.connections
            .get(&key)
            .is_some_and(|c| c.role == ParticipantRole::Publisher)
    }

    fn on_offer(&mut self, now: Instant, key: ConnectionKey, sdp: &str) {
        if !self.is_publisher(key) {
            return self.refuse(key, ErrorType::Unknown, "subscribers cannot publish tracks");
        }
        let media_addr = self.config.media_addr;
        let publisher = self
            .publishers
            .entry(key)
            .or_insert_with(|| PublisherPc::new(media_addr, now));
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

    fn on_sub_answer(&mut self, now: Instant, key: ConnectionKey, sdp: &str) {
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

    fn on_pending_track(&mut self, key: ConnectionKey, track: PendingTrack) {
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

    fn on_mute(&mut self, key: ConnectionKey, tid: &str, muted: bool) {
        // Muted before its offer was answered: the producer will start muted.
        if let Some(connection) = self.connections.get_mut(&key) {
            if let Some(pending) = connection
                .pending_tracks
                .values_mut()
                .find(|t| t.tid == tid)
            {
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

    fn on_subscribe(
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
    }

    fn on_display_name(
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

    fn on_custom_event(
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

    // ----- producers and subscriptions -----

    fn on_media_added(&mut self, now: Instant, key: ConnectionKey, added: MediaAdded) {
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
        let id = ProducerId(self.next_producer);
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
        let connection_id = connection.connection_id.clone();
        self.producers.insert(
            id,
            Producer::new(id, key, added.mid, track.clone(), added.simulcast.is_some()),
        );
        if let Some(publisher) = self.publishers.get_mut(&key) {
            publisher.by_mid.insert(added.mid, id);
        }
        tracing::info!(tid = %track.tid, source = ?track.source, "track published");
        self.signal_others(
            key,
            &ServerMessage::AddTrack {
                connection_id,
                track,
            },
        );
        self.update_subscriptions(now);
    }

    fn remove_producer(&mut self, id: ProducerId, announce: bool) {
        let Some(producer) = self.producers.remove(&id) else {
            return;
        };
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
    fn auto_subscription_targets(&self, key: ConnectionKey) -> Vec<ProducerId> {
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
    fn update_subscriptions(&mut self, now: Instant) {
        let keys: Vec<ConnectionKey> = self.connections.keys().copied().collect();
        for key in keys {
            let mode = self.connections[&key].subscription_mode;
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
        let keys: Vec<ConnectionKey> = self.connections.keys().copied().collect();
        for key in keys {
            self.attach_consumers(key);
        }
        self.send_offers(now);
    }

    /// Records on each producer which subscribers consume it, from the subscribers' state.
    fn attach_consumers(&mut self, key: ConnectionKey) {
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

    fn send_offers(&mut self, now: Instant) {
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

    // ----- network input and time -----

    /// Whether a datagram belongs to one of this space's peers.
    pub fn accepts(
        &self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        contents: &[u8],
    ) -> bool {
        self.find_peer(now, source, destination, contents).is_some()
    }

    fn find_peer(
        &self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        contents: &[u8],
    ) -> Option<PeerKey> {
        if let Some(peer) = self.routes.get(&source) {
            return Some(*peer);
        }
        let publishers = self.publishers.iter().map(|(k, p)| {
            (
                PeerKey {
                    connection: *k,
                    kind: PeerKind::Publisher,
                },
                &p.peer,
            )
        });
        let subscribers = self.subscribers.iter().map(|(k, s)| {
            (
                PeerKey {
                    connection: *k,
                    kind: PeerKind::Subscriber,
                },
                &s.peer,
            )
        });
        publishers
            .chain(subscribers)
            .find(|(_, peer)| peer.accepts(now, source, destination, contents))
            .map(|(key, _)| key)
    }

    pub fn handle_datagram(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        contents: &[u8],
    ) {
        let Some(key) = self.find_peer(now, source, destination, contents) else {
            return;
        };
        match key.kind {
            PeerKind::Publisher => {
                if let Some(publisher) = self.publishers.get_mut(&key.connection) {
                    publisher.peer.receive(now, source, destination, contents);
                    self.routes.insert(source, key);
                    self.drive_publisher(now, key.connection);
                }
            }
            PeerKind::Subscriber => {
                if let Some(subscriber) = self.subscribers.get_mut(&key.connection) {
                    subscriber.peer.receive(now, source, destination, contents);
                    self.routes.insert(source, key);
                    self.drive_subscriber(now, key.connection);
                }
            }
        }
        self.drain_dirty(now);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let due = |peer: &crate::peer::Peer| peer.next_timeout().is_some_and(|t| t <= now);
        let publishers: Vec<ConnectionKey> = self
            .publishers
            .iter()
            .filter(|(_, p)| due(&p.peer))
            .map(|(k, _)| *k)
            .collect();
        for key in publishers {
            if let Some(publisher) = self.publishers.get_mut(&key) {
                publisher.peer.handle_timeout(now);
            }
            self.drive_publisher(now, key);
        }
        let subscribers: Vec<ConnectionKey> = self
            .subscribers
            .iter()
            .filter(|(_, s)| due(&s.peer))
            .map(|(k, _)| *k)
            .collect();
        for key in subscribers {
            if let Some(subscriber) = self.subscribers.get_mut(&key) {
                subscriber.peer.handle_timeout(now);
            }
            self.drive_subscriber(now, key);
        }
        let throttled: Vec<ProducerId> = self
            .producers
            .values()
            .filter(|p| p.keyframes.poll_timeout().is_some_and(|t| t <= now))
            .map(|p| p.id)
            .collect();
        for producer in throttled {
            self.send_keyframe_requests(now, producer);
            if let Some(publisher) = self.producers.get(&producer).map(|p| p.connection) {
                self.drive_publisher(now, publisher);
            }
        }
        if self.next_speaker_poll.is_some_and(|t| t <= now) {
            self.poll_speakers(now);
        }
        if self.next_layer_check.is_some_and(|t| t <= now) {
            let subscribers: Vec<ConnectionKey> = self.subscribers.keys().copied().collect();
            for key in subscribers {
                self.select_layers(now, key);
            }
            self.drive_all(now);
        }
        let simulcast = self
            .producers
            .values()
            .any(|p| p.simulcast && !p.consumers.is_empty());
        self.next_layer_check = simulcast.then(|| {
            self.next_layer_check
                .filter(|t| *t > now)
                .unwrap_or(now + LAYER_CHECK_INTERVAL)
        });
    }

    fn drive_all(&mut self, now: Instant) {
        let publishers: Vec<ConnectionKey> = self.publishers.keys().copied().collect();
        for key in publishers {
            self.drive_publisher(now, key);
        }
        let subscribers: Vec<ConnectionKey> = self.subscribers.keys().copied().collect();
        for key in subscribers {
            self.drive_subscriber(now, key);
        }
        self.drain_dirty(now);
    }

    fn drain_dirty(&mut self, now: Instant) {
        while let Some(key) = self.dirty.pop() {
            self.drive_subscriber(now, key);
        }
    }

    fn drive_publisher(&mut self, now: Instant, key: ConnectionKey) {
        loop {
            let Some(publisher) = self.publishers.get_mut(&key) else {
                return;
            };
            let Some(event) = publisher.peer.poll_event(&mut self.outputs) else {
                return;
            };
            match event {
                Event::RtpPacket(packet) => self.forward(now, key, &packet),
                Event::MediaAdded(added) => self.on_media_added(now, key, added),
                Event::MediaChanged(changed)
                    if (changed.direction == Direction::Inactive
                        || changed.direction == Direction::SendOnly) =>
                {
                    let producer = self
                        .publishers
                        .get(&key)
                        .and_then(|p| p.by_mid.get(&changed.mid).copied());
                    if let Some(producer) = producer {
                        self.remove_producer(producer, true);
                        self.update_subscriptions(now);
                    }
                }
                Event::IceConnectionStateChange(state) => {
                    tracing::debug!(?state, connection = key.0, "publisher ICE state");
                }
                _ => {}
            }
        }
    }

    fn drive_subscriber(&mut self, now: Instant, key: ConnectionKey) {
        loop {
            let Some(subscriber) = self.subscribers.get_mut(&key) else {
                return;
            };
            let Some(event) = subscriber.peer.poll_event(&mut self.outputs) else {
                return;
            };
            match event {
                Event::KeyframeRequest(request) => {
                    let target = subscriber
                        .by_mid
                        .get(&request.mid)
                        .map(|&i| &subscriber.consumers[i])
                        .map(|c| (c.producer, c.wanted_layer()));
                    if let Some((producer, layer)) = target {
                        self.request_keyframe(now, producer, layer);
                    }
                }
                Event::EgressBitrateEstimate(BweKind::Twcc { estimate, .. }) => {
                    subscriber.egress_estimate_bps = estimate.as_u64();
                    self.select_layers(now, key);
                }
                Event::IceConnectionStateChange(state) => {
                    tracing::debug!(?state, connection = key.0, "subscriber ICE state");
                }
                _ => {}
            }
        }
    }

    // ----- media -----

    fn forward(&mut self, now: Instant, key: ConnectionKey, packet: &RtpPacket) {
        let Some(publisher) = self.publishers.get_mut(&key) else {
            return;
        };
        let Some((producer_id, layer)) = publisher.route(packet.header.ssrc) else {
            return;
        };
        let Some(producer) = self.producers.get_mut(&producer_id) else {
            return;
        };
        let pt = packet.header.payload_type;
        let params = match producer.payload_types.iter().find(|(p, _)| *p == pt) {
            Some((_, params)) => *params,
            None => {
                let Some(params) = publisher
                    .peer
                    .rtc
                    .codec_config()
                    .find(|p| p.pt() == pt)
                    .copied()
                else {
                    return;
                };
                producer.payload_types.push((pt, params));
                params
            }
        };
        let layer = layer.min(LAYER_COUNT as u8 - 1);
        producer.meters[usize::from(layer)].record(packet.payload.len(), now);
        if producer.track.kind == TrackKind::Audio {
            if let Some(level) = packet.header.ext_vals.audio_level {
                self.speakers.handle_level(
                    producer_id,
                    level.unsigned_abs(),
                    packet.header.ext_vals.voice_activity,
                    now,
                );
                if self.next_speaker_poll.is_none() {
                    self.next_speaker_poll = self
                        .speakers
                        .poll_timeout()
                        .or(Some(now + SPEAKER_INTERVAL));
                }
            }
        }
        let keyframe = crate::consumer::is_keyframe(params, &packet.payload);
        if keyframe {
            producer.keyframes.keyframe_received(layer, now);
        }
        for &subscriber_key in &producer.consumers {
            let Some(subscriber) = self.subscribers.get_mut(&subscriber_key) else {
                continue;
            };
            let Some(&index) = subscriber.by_producer.get(&producer_id) else {
                continue;
            };
            let consumer = &mut subscriber.consumers[index];
            let forwarded = consumer.forward(
                now,
                packet,
                layer,
                keyframe,
                params,
                &mut subscriber.peer.rtc,
            );
            if consumer.needs_keyframe() {
                producer.keyframes.request(consumer.wanted_layer(), now);
            }
            if forwarded {
                subscriber.peer.touch(now);
                if !self.dirty.contains(&subscriber_key) {
                    self.dirty.push(subscriber_key);
                }
            }
        }
        self.send_keyframe_requests(now, producer_id);
    }

    /// Asks a publisher for a keyframe of a layer, through the producer's throttle.
    fn request_keyframe(&mut self, now: Instant, producer_id: ProducerId, layer: u8) {
        if let Some(producer) = self.producers.get_mut(&producer_id) {
            producer.keyframes.request(layer, now);
        }
        self.send_keyframe_requests(now, producer_id);
    }

    /// Sends the PLIs a producer's throttle lets through now.
    fn send_keyframe_requests(&mut self, now: Instant, producer_id: ProducerId) {
        let Some(producer) = self.producers.get_mut(&producer_id) else {
            return;
        };
        let Some(publisher) = self.publishers.get_mut(&producer.connection) else {
            return;
        };
        while let Some(layer) = producer.keyframes.poll_request(now) {
            let rid = producer
                .simulcast
                .then(|| str0m::media::Rid::from(LAYERS[usize::from(layer.min(2))].rid));
            if let Some(stream) = publisher
                .peer
                .rtc
                .direct_api()
                .stream_rx_by_mid(producer.mid, rid)
            {
                stream.request_keyframe(KeyframeRequestKind::Pli);
                publisher.peer.touch(now);
            }
        }
    }

    /// Shares a subscriber's bandwidth estimate among its video consumers and picks each
    /// one's layer.
    fn select_layers(&mut self, now: Instant, key: ConnectionKey) {
        let Some(subscriber) = self.subscribers.get_mut(&key) else {
            return;
        };
        let open = |kind| {
            subscriber
                .consumers
                .iter()
                .filter(move |c| c.is_open() && c.kind == kind)
        };
        let videos = open(MediaKind::Video).count().max(1) as u64;
        let audios = open(MediaKind::Audio).count() as u64;
        let budget = subscriber
            .egress_estimate_bps
            .saturating_sub(audios * AUDIO_BPS)
            / videos;
        // Ask the estimator to probe towards the top layer of every video. No padding floor:
        // padding on a link already at capacity only causes loss.
        let videos_open = open(MediaKind::Video).count() as u64;
        let desired =
            audios * AUDIO_BPS + videos_open * u64::from(LAYERS[LAYER_COUNT - 1].max_bitrate);
        subscriber
            .peer
            .rtc
            .bwe()
            .set_bitrate(Bitrate::bps(0), Bitrate::bps(desired));
        let mut keyframes = Vec::new();
        for consumer in subscriber
            .consumers
            .iter_mut()
            .filter(|c| c.is_open() && c.kind == MediaKind::Video)
        {
            let Some(producer) = self.producers.get(&consumer.producer) else {
                continue;
            };
            if !producer.simulcast {
                continue;
            }
            if let Some(layer) = consumer.retarget(now, budget, &producer.layer_bitrates(now)) {
                keyframes.push((consumer.producer, layer));
            }
        }
        for (producer, layer) in keyframes {
            self.request_keyframe(now, producer, layer);
        }
    }

    fn poll_speakers(&mut self, now: Instant) {
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
}

impl Space {
    /// The announced speakers as `(connection_id, track_id)`, loudest first.
    fn speaker_tracks(&self) -> Vec<(String, String)> {
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
    fn active_speaker_list(&self) -> Option<ServerMessage> {
        let tracks = self.speaker_tracks();
        (!tracks.is_empty()).then_some(ServerMessage::ActiveSpeakers(tracks))
    }
}

fn media_kind(kind: TrackKind) -> MediaKind {
    match kind {
        TrackKind::Audio => MediaKind::Audio,
        TrackKind::Video => MediaKind::Video,
    }
}
