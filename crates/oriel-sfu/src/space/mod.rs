//! One space on one worker: the orchestration of connections, producers and consumers.
//!
//! This file holds the state, the sans-IO surface (inputs, outputs, timers) and the driving
//! of each peer connection; the handlers live by concern beside it: [`signaling`] (what
//! participants ask for), [`subscriptions`] (who receives what), [`forwarding`] (media on its
//! way through, keyframes, layers) and [`speakers`].

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
use str0m::net::Protocol;
use str0m::rtp::RtpPacket;
use str0m::{Candidate, Event};

use crate::config::{SpaceConfig, LAYERS};
use crate::connection::{Connection, SubscriptionMode};
use crate::ids::{PeerKey, PeerKind, ProducerId};
use crate::output::Output;
use crate::producer::{Producer, LAYER_COUNT};
use crate::publisher::PublisherPc;
use crate::shard::{RelayedPacket, RemoteTrack, ShardEvent};
use crate::subscriber::SubscriberPc;
use crate::ConnectionKey;

mod forwarding;
mod mirrors;
mod signaling;
mod speakers;
mod subscriptions;

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
    /// A participant no one sees (a broadcast's compositor): it receives like any other, but
    /// is never announced to the others nor listed in their `joined`.
    pub hidden: bool,
    /// TURN servers with credentials minted for this join, passed on in `joined`.
    pub ice_servers: Vec<oriel_proto::IceServer>,
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
    /// Source (transport and address) of a validated peer, so datagrams skip the ICE scan.
    routes: HashMap<(Protocol, SocketAddr), PeerKey>,
    speakers: oriel_media::ActiveSpeakerDetector<ProducerId>,
    announced_speakers: Vec<ProducerId>,
    next_speaker_poll: Option<Instant>,
    next_layer_check: Option<Instant>,
    /// Subscribers written to since their last drain.
    dirty: Vec<ConnectionKey>,
    outputs: VecDeque<Output>,
    /// Whether a broadcast of this space is running: told in `joined` and on every change.
    broadcasting: bool,
    /// PLIs sent to publishers since the I/O shell last took the count (for metrics).
    keyframe_requests: u64,
    /// What subscribers reported since the shell last took a [`LinkReport`].
    link: LinkReport,
    /// Other shards of this space exist: changes and packets of this shard's own connections
    /// go out as [`Output::Relay`].
    relaying: bool,
    /// Connections of this shard (the others in `connections` are mirrors).
    local_connections: usize,
}

/// What subscribers' browsers reported about their links, for metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LinkReport {
    /// NACKs received from subscribers (counted since the last report was taken).
    pub nacks_received: u64,
    /// Packets subscribers reported lost, before repair (since the last report was taken).
    pub packets_lost: u64,
    /// The sum of the bandwidth estimates towards every subscriber now, bits per second.
    pub egress_estimate_bps: u64,
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
            broadcasting: false,
            keyframe_requests: 0,
            link: LinkReport::default(),
            relaying: false,
            local_connections: 0,
        }
    }

    /// A broadcast of this space started or stopped: everyone connected hears of it
    /// (`broadcast_state_update`), and joiners find it in `joined`.
    pub fn set_broadcasting(&mut self, broadcasting: bool) {
        if self.broadcasting == broadcasting {
            return;
        }
        self.broadcasting = broadcasting;
        let message = ServerMessage::BroadcastStateUpdate { broadcasting };
        let everyone: Vec<ConnectionKey> = self
            .connections
            .values()
            .filter(|c| !c.remote)
            .map(|c| c.key)
            .collect();
        for key in everyone {
            self.signal(key, message.clone());
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

    /// Whether no connection of this shard is left (mirrors of other shards' do not count).
    pub fn is_empty(&self) -> bool {
        self.local_connections == 0
    }

    /// PLIs sent to publishers since the last call (the shell sums them into its metrics).
    pub fn take_keyframe_requests(&mut self) -> u64 {
        std::mem::take(&mut self.keyframe_requests)
    }

    /// What subscribers reported since the last call, and their estimates now. O(subscribers):
    /// for a metrics scrape's pace, not per packet.
    pub fn take_link_report(&mut self) -> LinkReport {
        let mut report = std::mem::take(&mut self.link);
        report.egress_estimate_bps = self
            .subscribers
            .values()
            .map(|s| s.egress_estimate_bps)
            .sum();
        report
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

    /// A message for a connection of this shard (a mirror's own shard signals it).
    fn signal(&mut self, connection: ConnectionKey, message: ServerMessage) {
        if self.connections.get(&connection).is_some_and(|c| c.remote) {
            return;
        }
        self.outputs.push_back(Output::Signal {
            connection,
            message,
        });
    }

    /// What the space's other shards must hear of a change here, when there are any.
    fn relay(&mut self, event: ShardEvent) {
        if self.relaying {
            self.outputs.push_back(Output::Relay(event));
        }
    }

    fn signal_others(&mut self, except: ConnectionKey, message: &ServerMessage) {
        let others: Vec<ConnectionKey> = self
            .connections
            .values()
            .filter(|c| c.key != except && !c.remote)
            .map(|c| c.key)
            .collect();
        for key in others {
            self.signal(key, message.clone());
        }
    }

    // ----- network input and time -----

    /// Whether a datagram belongs to one of this space's peers.
    pub fn accepts(
        &self,
        now: Instant,
        proto: Protocol,
        source: SocketAddr,
        destination: SocketAddr,
        contents: &[u8],
    ) -> bool {
        self.find_peer(now, proto, source, destination, contents)
            .is_some()
    }

    fn find_peer(
        &self,
        now: Instant,
        proto: Protocol,
        source: SocketAddr,
        destination: SocketAddr,
        contents: &[u8],
    ) -> Option<PeerKey> {
        if let Some(peer) = self.routes.get(&(proto, source)) {
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
            .find(|(_, peer)| peer.accepts(now, proto, source, destination, contents))
            .map(|(key, _)| key)
    }

    /// A datagram (or an ICE-TCP frame) from `source` that arrived at `destination`, one of
    /// the candidate addresses of [`SpaceConfig::candidates`].
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        proto: Protocol,
        source: SocketAddr,
        destination: SocketAddr,
        contents: &[u8],
    ) {
        let Some(key) = self.find_peer(now, proto, source, destination, contents) else {
            return;
        };
        match key.kind {
            PeerKind::Publisher => {
                if let Some(publisher) = self.publishers.get_mut(&key.connection) {
                    publisher
                        .peer
                        .receive(now, proto, source, destination, contents);
                    self.routes.insert((proto, source), key);
                    self.drive_publisher(now, key.connection);
                }
            }
            PeerKind::Subscriber => {
                if let Some(subscriber) = self.subscribers.get_mut(&key.connection) {
                    subscriber
                        .peer
                        .receive(now, proto, source, destination, contents);
                    self.routes.insert((proto, source), key);
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
            if let Some(subscriber) = self.subscribers.get_mut(&key) {
                subscriber.awaiting_drain = false;
            }
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
                Event::RtpPacket(packet) => self.forward(now, key, *packet),
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
                        tracing::debug!(
                            connection = key.0,
                            layer,
                            "keyframe request from a subscriber"
                        );
                        self.request_keyframe(now, producer, layer);
                    }
                }
                Event::EgressBitrateEstimate(BweKind::Twcc { estimate, .. }) => {
                    tracing::trace!(
                        connection = key.0,
                        estimate_bps = estimate.as_u64(),
                        "subscriber estimate"
                    );
                    subscriber.egress_estimate_bps = estimate.as_u64();
                    self.select_layers(now, key);
                }
                Event::IceConnectionStateChange(state) => {
                    tracing::debug!(?state, connection = key.0, "subscriber ICE state");
                }
                Event::MediaEgressStats(stats) => {
                    if let Some(&index) = subscriber.by_mid.get(&stats.mid) {
                        let consumer = &mut subscriber.consumers[index];
                        let lost = stats.remote.as_ref().map_or(0, |r| r.packets_lost);
                        self.link.nacks_received +=
                            stats.nacks.saturating_sub(consumer.nacks_reported);
                        self.link.packets_lost += lost.saturating_sub(consumer.lost_reported);
                        consumer.nacks_reported = consumer.nacks_reported.max(stats.nacks);
                        consumer.lost_reported = consumer.lost_reported.max(lost);
                    }
                    let before = subscriber.playout_delay.min_delay(now);
                    subscriber
                        .playout_delay
                        .on_report(now, stats.rtt, stats.loss);
                    let delay = subscriber.playout_delay.min_delay(now);
                    if delay != before {
                        tracing::debug!(
                            connection = key.0,
                            delay_ms = delay.as_millis() as u64,
                            loss = ?stats.loss,
                            rtt = ?stats.rtt,
                            "subscriber playout delay"
                        );
                    }
                    // Every time, so that consumers added since get it too.
                    for consumer in &mut subscriber.consumers {
                        consumer.set_min_playout_delay(delay);
                    }
                }
                _ => {}
            }
        }
    }
}

fn media_kind(kind: TrackKind) -> MediaKind {
    match kind {
        TrackKind::Audio => MediaKind::Audio,
        TrackKind::Video => MediaKind::Video,
    }
}
