//! The sans-IO core of a client: the SDK's side of the signaling and its peer connections.
//!
//! A [`Session`] does no I/O and reads no clock. Its driver feeds it
//!
//! * server frames: [`Session::handle_signal`], and the socket's end: [`Session::handle_close`];
//! * datagrams received on the client's UDP sockets: [`Session::handle_datagram`];
//! * time: [`Session::handle_timeout`] at [`Session::poll_timeout`];
//! * the application's requests: [`Session::publish`], [`Session::publish_custom_event`],
//!   [`Session::set_display_name`], [`Session::subscribe_tracks`], [`Session::leave`];
//!
//! and after each call drains [`Session::poll_output`]: text frames for the WebSocket,
//! datagrams to send, events for the application, and the instruction to close.
//!
//! Behaviour follows `@mux/spaces-web` 1.2.0 (see `spaces-protocol-as-the-sdk-speaks-it.md`):
//! one receive-only peer connection per `sfu_id` answered with `sub_answer`, one send-only
//! publisher peer connection (announced by `pending_track`s, then `offer`), host candidates
//! trickled with `candidate` (type 1 subscriber, 2 publisher, the publisher reusing the first
//! `sfu_id`), custom events and display names as requests with a `request_id` and a 30 s
//! timeout, and client-side rate limits from `joined.limits`. Each peer connection is a str0m
//! `Rtc` in RTP mode with full ICE (the server is ICE-lite) and a host candidate on its own
//! UDP socket, which the driver binds through a [`SocketFactory`].

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use oriel_proto::{
    CandidateTarget, ClientMessage, ParticipantRole, PendingTrack, ServerMessage, SignalError,
    SubscriptionRequest, TrackKind, TrackSource, MAX_CUSTOM_EVENT_BYTES, MAX_DISPLAY_NAME_CHARS,
};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, KeyframeRequestKind, MediaKind, Mid, Pt, Simulcast, SimulcastLayer};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpPacket, Ssrc};
use str0m::{Candidate, Event, IceConnectionState, Input, Output as RtcOutput, Rtc, RtcConfig};

use crate::counters::ClientCounters;
use crate::events::{
    ClientError, ClientEvent, JoinError, JoinedInfo, MediaDelivery, MediaPacket, PublishedTrack,
    ReceivedPacket, RequestOk, Speaker,
};
use crate::media::{MediaSource, VideoLayer, VideoSpec};
use crate::stamp;

/// The SDK's timeout for requests with a `request_id`.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a subscriber without a keyframe to start from asks again (a decoder's PLI).
const PLI_RETRY: Duration = Duration::from_millis(300);
/// Candidates that arrive before their peer connection exists are kept, up to this many.
const MAX_QUEUED_CANDIDATES: usize = 32;
/// Bitrate of a camera without simulcast (the SDK's default encoding).
const SINGLE_STREAM_BPS: u32 = 700_000;
/// Dimensions of the full-resolution camera layer.
const CAMERA_WIDTH: u16 = 1280;
const CAMERA_HEIGHT: u16 = 720;

/// Binds a new local UDP socket for a peer connection and tells its address.
pub trait SocketFactory {
    fn bind(&mut self) -> std::io::Result<SocketAddr>;
}

/// How a session joins.
#[derive(Clone, Debug)]
pub struct SessionOptions {
    /// The join token (JWT); its `role` claim decides whether this client may publish.
    pub token: String,
    pub display_name: Option<String>,
    /// 0 manual subscriptions, 1 to 20 automatic (the SDK's default is 16).
    pub managed_subscriptions: u8,
}

/// What to publish.
#[derive(Clone, Debug)]
pub struct PublishOptions {
    pub audio: bool,
    pub video: bool,
    /// Frames per second on every layer.
    pub fps: u32,
    /// Send the server's `camera_encodings` as simulcast layers (else one 700 kbit/s stream).
    pub simulcast: bool,
}

impl Default for PublishOptions {
    fn default() -> Self {
        Self {
            audio: true,
            video: true,
            fps: 30,
            simulcast: true,
        }
    }
}

/// What the session asks its driver to do.
#[derive(Debug)]
pub enum Output {
    /// Send this text frame on the WebSocket.
    Signal(String),
    /// Send a datagram from the local socket bound at `source`.
    Transmit {
        source: SocketAddr,
        destination: SocketAddr,
        contents: Vec<u8>,
    },
    Event(ClientEvent),
    /// Close the WebSocket (no code: the server sees 1005, as with the SDK's `leave()`).
    Close,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionState {
    /// Waiting for `joined` or `error`.
    Connecting,
    Joined,
    /// Left, refused or disconnected: nothing more happens.
    Ended,
}

struct Pc {
    rtc: Rtc,
    local: SocketAddr,
    timeout: Option<Instant>,
    connected: bool,
    alive: bool,
}

// An event is handled at once; boxing it would cost an allocation per received packet.
#[allow(clippy::large_enum_variant)]
enum Polled {
    Event(Event),
    Idle,
    Failed(String),
}

impl Pc {
    fn new(config: &RtcConfig, local: SocketAddr, now: Instant) -> Result<Self, ClientError> {
        let mut rtc = config.clone().build(now);
        let candidate =
            Candidate::host(local, "udp").map_err(|e| ClientError::Socket(e.to_string()))?;
        rtc.add_local_candidate(candidate);
        Ok(Self {
            rtc,
            local,
            timeout: Some(now),
            connected: false,
            alive: true,
        })
    }

    /// Drains str0m up to its next event; datagrams go to `outputs`.
    fn poll(&mut self, outputs: &mut VecDeque<Output>) -> Polled {
        if !self.alive {
            return Polled::Idle;
        }
        loop {
            match self.rtc.poll_output() {
                Ok(RtcOutput::Transmit(t)) => outputs.push_back(Output::Transmit {
                    source: t.source,
                    destination: t.destination,
                    contents: t.contents.into(),
                }),
                Ok(RtcOutput::Timeout(at)) => {
                    self.timeout = Some(at);
                    return Polled::Idle;
                }
                Ok(RtcOutput::Event(event)) => return Polled::Event(event),
                Err(error) => {
                    self.alive = false;
                    self.timeout = None;
                    return Polled::Failed(error.to_string());
                }
            }
        }
    }

    fn next_timeout(&self) -> Option<Instant> {
        self.timeout.filter(|_| self.alive)
    }

    fn candidate_frame(&mut self, target: CandidateTarget, sfu_id: &str) -> Option<String> {
        let candidate = Candidate::host(self.local, "udp").ok()?;
        let ufrag = Some(self.rtc.direct_api().local_ice_credentials().ufrag);
        Some(
            ClientMessage::Candidate {
                candidate: oriel_proto::Candidate {
                    candidate: candidate.to_sdp_string(),
                    sdp_mline_index: Some(0),
                    sdp_mid: Some("0".to_owned()),
                    username_fragment: ufrag,
                },
                target,
                sfu_id: sfu_id.to_owned(),
            }
            .to_json(),
        )
    }

    fn close(&mut self) {
        self.rtc.disconnect();
    }
}

/// A remote track as a subscriber m-line carries it.
struct RecvTrack {
    tid: String,
    connection_id: Option<String>,
    kind: MediaKind,
    active: bool,
    /// A keyframe arrived: a decoder could start.
    decodable: bool,
    last_pli: Option<Instant>,
    /// The codec of the payload type last received, looked up again only when it changes.
    codec: Option<(Pt, Codec)>,
}

struct SubPc {
    pc: Pc,
    sfu_id: String,
    tracks: HashMap<Mid, RecvTrack>,
    ssrcs: HashMap<Ssrc, Mid>,
}

struct PubPc {
    pc: Pc,
    pending_offer: Option<SdpPendingOffer>,
}

enum RequestKind {
    CustomEvent,
    DisplayName(String),
}

struct PendingRequest {
    kind: RequestKind,
    deadline: Instant,
}

/// Which peer connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PcId {
    Sub(usize),
    Pub,
}

pub struct Session {
    options: SessionOptions,
    role: ParticipantRole,
    state: SessionState,
    opened_at: Instant,
    info: Option<JoinedInfo>,
    /// Other participants by connection id.
    participants: HashMap<String, oriel_proto::Participant>,
    /// Track id to its publisher's connection id.
    tid_owner: HashMap<String, String>,
    subs: Vec<SubPc>,
    publisher: Option<PubPc>,
    published: Vec<PublishedTrack>,
    media: Option<MediaSource>,
    queued_candidates: Vec<(CandidateTarget, String, Candidate)>,
    requests: HashMap<String, PendingRequest>,
    last_custom_event: Option<Instant>,
    last_display_name: Option<Instant>,
    outputs: VecDeque<Output>,
    delivery: MediaDelivery,
    counters: Arc<ClientCounters>,
    rtc_config: RtcConfig,
    /// When the datagram being handled reached the host, if known better than `now`.
    datagram_arrival: Option<Instant>,
}

/// The `role` claim of a join token, read without verification as the SDK does:
/// `"subscriber"` is a subscriber, anything else a publisher.
pub fn role_of_token(token: &str) -> ParticipantRole {
    let role = token
        .split('.')
        .nth(1)
        .and_then(|payload| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload.trim_end_matches('='))
                .ok()
        })
        .and_then(|json| serde_json::from_slice::<serde_json::Value>(&json).ok())
        .and_then(|claims| {
            claims
                .get("role")
                .and_then(|r| r.as_str())
                .map(str::to_owned)
        });
    if role.as_deref() == Some("subscriber") {
        ParticipantRole::Subscriber
    } else {
        ParticipantRole::Publisher
    }
}

/// The peer connection template: RTP mode (the client sees and writes RTP itself), full ICE,
/// the codecs the SDK's browser would offer that Oriel forwards.
fn rtc_config() -> RtcConfig {
    RtcConfig::new()
        .set_rtp_mode(true)
        .clear_codecs()
        .enable_opus(true, false)
        .enable_vp8(true)
        .enable_h264(true)
}

impl Session {
    /// A session whose WebSocket opened at `now`.
    pub fn new(
        now: Instant,
        options: SessionOptions,
        delivery: MediaDelivery,
        counters: Arc<ClientCounters>,
    ) -> Self {
        // Fix the media clock's origin before any stamp is written or read.
        let _ = stamp::epoch();
        Self {
            role: role_of_token(&options.token),
            options,
            state: SessionState::Connecting,
            opened_at: now,
            info: None,
            participants: HashMap::new(),
            tid_owner: HashMap::new(),
            subs: Vec::new(),
            publisher: None,
            published: Vec::new(),
            media: None,
            queued_candidates: Vec::new(),
            requests: HashMap::new(),
            last_custom_event: None,
            last_display_name: None,
            outputs: VecDeque::new(),
            delivery,
            counters,
            rtc_config: rtc_config(),
            datagram_arrival: None,
        }
    }

    pub fn state(&self) -> SessionState {
        self.state
    }

    pub fn options(&self) -> &SessionOptions {
        &self.options
    }

    pub fn role(&self) -> ParticipantRole {
        self.role
    }

    pub fn info(&self) -> Option<&JoinedInfo> {
        self.info.as_ref()
    }

    pub fn counters(&self) -> &Arc<ClientCounters> {
        &self.counters
    }

    /// The tracks this client publishes.
    pub fn published(&self) -> &[PublishedTrack] {
        &self.published
    }

    /// Other participants, by connection id.
    pub fn participants(&self) -> &HashMap<String, oriel_proto::Participant> {
        &self.participants
    }

    /// Local addresses of the peer connections' sockets.
    pub fn local_addrs(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        self.subs
            .iter()
            .map(|s| s.pc.local)
            .chain(self.publisher.iter().map(|p| p.pc.local))
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// The earliest moment [`Session::handle_timeout`] must run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state == SessionState::Ended {
            return None;
        }
        let pcs = self
            .subs
            .iter()
            .map(|s| &s.pc)
            .chain(self.publisher.iter().map(|p| &p.pc))
            .filter_map(Pc::next_timeout);
        let media = self.media.as_ref().and_then(MediaSource::poll_timeout);
        let requests = self.requests.values().map(|r| r.deadline);
        pcs.chain(media).chain(requests).min()
    }

    fn signal(&mut self, message: ClientMessage) {
        self.outputs.push_back(Output::Signal(message.to_json()));
    }

    fn emit(&mut self, event: ClientEvent) {
        self.outputs.push_back(Output::Event(event));
    }

    fn own_connection_id(&self) -> Option<&str> {
        self.info.as_ref().map(|i| i.connection_id.as_str())
    }

    // ----- signaling -----

    /// One text frame from the server.
    pub fn handle_signal(&mut self, now: Instant, frame: &str, sockets: &mut dyn SocketFactory) {
        if self.state == SessionState::Ended {
            return;
        }
        let message = match ServerMessage::parse(frame) {
            Ok(message) => message,
            Err(error) => {
                tracing::debug!(%error, "unusable server frame");
                if self.state == SessionState::Connecting {
                    // The SDK would ignore it and keep waiting; so do we.
                    return;
                }
                return self.emit(ClientEvent::ProtocolError(error.to_string()));
            }
        };
        if self.state == SessionState::Connecting {
            match message {
                ServerMessage::Joined(joined) => self.on_joined(now, *joined, sockets),
                ServerMessage::Error(SignalError::Connection {
                    error_type,
                    message,
                    ..
                }) => self.fail_join(JoinError::from_signal(error_type, message)),
                ServerMessage::Error(SignalError::Request { message, .. }) => self.fail_join(
                    JoinError::from_signal(oriel_proto::ErrorType::Unknown, message),
                ),
                // Anything else before `joined` is dispatched by the SDK as usual; nothing
                // that matters can come before it from a sane server.
                _ => {}
            }
            return;
        }
        match message {
            ServerMessage::Joined(_) => {} // a second `joined` on one socket does nothing
            ServerMessage::ParticipantConnected(participant) => {
                if Some(participant.connection_id.as_str()) == self.own_connection_id() {
                    return;
                }
                self.add_participant(participant);
            }
            ServerMessage::ParticipantDisconnected { connection_id } => {
                if let Some(participant) = self.participants.remove(&connection_id) {
                    for track in participant.tracks {
                        self.tid_owner.remove(&track.tid);
                        self.emit(ClientEvent::TrackRemoved {
                            connection_id: connection_id.clone(),
                            tid: track.tid,
                        });
                    }
                    self.emit(ClientEvent::ParticipantLeft { connection_id });
                }
            }
            ServerMessage::AddTrack {
                connection_id,
                track,
            } => {
                let Some(participant) = self.participants.get_mut(&connection_id) else {
                    return; // about ourselves, or someone unknown: the SDK ignores it
                };
                participant.tracks.retain(|t| t.tid != track.tid);
                participant.tracks.push(track.clone());
                self.tid_owner
                    .insert(track.tid.clone(), connection_id.clone());
                self.emit(ClientEvent::TrackAdded {
                    connection_id,
                    track,
                });
            }
            ServerMessage::RemoveTrack {
                connection_id,
                track,
            } => {
                let Some(participant) = self.participants.get_mut(&connection_id) else {
                    return;
                };
                participant.tracks.retain(|t| t.tid != track.tid);
                self.tid_owner.remove(&track.tid);
                self.emit(ClientEvent::TrackRemoved {
                    connection_id,
                    tid: track.tid,
                });
            }
            ServerMessage::SubOffer { sfu_id, sdp } => {
                self.accept_sub_offer(now, &sfu_id, &sdp, sockets)
            }
            ServerMessage::Answer(sdp) => self.apply_answer(now, &sdp),
            ServerMessage::Candidate {
                candidate,
                target,
                sfu_id,
            } => self.on_candidate(now, target, sfu_id, &candidate.candidate),
            ServerMessage::TrackMuted {
                connection_id,
                track,
            } => self.on_mute(connection_id, track.tid, true),
            ServerMessage::TrackUnmuted {
                connection_id,
                track,
            } => self.on_mute(connection_id, track.tid, false),
            ServerMessage::ActiveSpeakers(speakers) => self.emit(ClientEvent::ActiveSpeakers(
                speakers
                    .into_iter()
                    .map(|(connection_id, track_id)| Speaker {
                        connection_id,
                        track_id,
                    })
                    .collect(),
            )),
            ServerMessage::CustomEvent {
                payload,
                connection_id,
                sequence_num,
                request_id,
                ..
            } => {
                if Some(connection_id.as_str()) == self.own_connection_id() {
                    if let Some(id) = request_id {
                        self.finish_request(&id, Ok(RequestOk::CustomEvent { sequence_num }));
                    }
                } else if self.participants.contains_key(&connection_id) {
                    self.emit(ClientEvent::CustomEvent {
                        connection_id,
                        payload,
                        sequence_num,
                    });
                }
            }
            ServerMessage::ParticipantUpdate {
                connection_id,
                display_name,
                request_id,
            } => {
                if display_name.is_empty() {
                    return; // the SDK logs "unknown participant update field"
                }
                if Some(connection_id.as_str()) == self.own_connection_id() {
                    if let Some(info) = &mut self.info {
                        info.display_name = display_name;
                    }
                    if let Some(id) = request_id {
                        self.finish_request(&id, Ok(RequestOk::DisplayName));
                    }
                } else if let Some(participant) = self.participants.get_mut(&connection_id) {
                    participant.display_name = display_name.clone();
                    self.emit(ClientEvent::DisplayNameChanged {
                        connection_id,
                        display_name,
                    });
                }
            }
            ServerMessage::BroadcastStateUpdate { broadcasting } => {
                self.emit(ClientEvent::BroadcastStateChanged(broadcasting))
            }
            ServerMessage::SubscribeTracks {
                successes,
                failures,
            } => self.emit(ClientEvent::SubscriptionReply {
                subscribe: true,
                successes,
                failures,
            }),
            ServerMessage::UnsubscribeTracks {
                successes,
                failures,
            } => self.emit(ClientEvent::SubscriptionReply {
                subscribe: false,
                successes,
                failures,
            }),
            ServerMessage::Error(SignalError::Request {
                error_type,
                message,
                request_ids,
            }) => {
                let mut claimed = false;
                for id in &request_ids {
                    if self.requests.contains_key(id) {
                        claimed = true;
                        self.finish_request(
                            id,
                            Err(ClientError::Refused {
                                error_type,
                                message: message.clone(),
                            }),
                        );
                    }
                }
                if !claimed {
                    self.emit(ClientEvent::ServerError(SignalError::Request {
                        error_type,
                        message,
                        request_ids,
                    }));
                }
            }
            ServerMessage::Error(error @ SignalError::Connection { fatal, .. }) => {
                let reason = match &error {
                    SignalError::Connection { message, .. } => message.clone(),
                    SignalError::Request { .. } => String::new(),
                };
                self.emit(ClientEvent::ServerError(error));
                if fatal {
                    // `fatal` without `retry`: the SDK closes silently. (No reconnection here.)
                    self.end(now, None, reason);
                    self.outputs.push_back(Output::Close);
                }
            }
        }
        self.drive_all(now);
    }

    /// The WebSocket closed (or failed).
    pub fn handle_close(&mut self, now: Instant, code: Option<u16>, reason: String) {
        match self.state {
            SessionState::Connecting => self.fail_join(JoinError::ClosedBeforeJoin),
            SessionState::Joined => self.end(now, code, reason),
            SessionState::Ended => {}
        }
    }

    /// Leaves the space: closes the peer connections and the WebSocket.
    pub fn leave(&mut self, now: Instant) {
        if self.state == SessionState::Ended {
            return;
        }
        self.close_pcs(now);
        self.state = SessionState::Ended;
        self.fail_requests();
        self.outputs.push_back(Output::Close);
    }

    fn fail_join(&mut self, error: JoinError) {
        self.state = SessionState::Ended;
        self.emit(ClientEvent::JoinFailed(error));
        self.outputs.push_back(Output::Close);
    }

    fn end(&mut self, now: Instant, code: Option<u16>, reason: String) {
        if self.state == SessionState::Ended {
            return;
        }
        self.close_pcs(now);
        self.state = SessionState::Ended;
        self.fail_requests();
        self.emit(ClientEvent::Closed { code, reason });
    }

    fn fail_requests(&mut self) {
        let ids: Vec<String> = self.requests.keys().cloned().collect();
        for id in ids {
            self.finish_request(&id, Err(ClientError::Closed));
        }
    }

    fn close_pcs(&mut self, _now: Instant) {
        for sub in &mut self.subs {
            sub.pc.close();
            let _ = sub.pc.poll(&mut self.outputs);
        }
        if let Some(publisher) = &mut self.publisher {
            publisher.pc.close();
            let _ = publisher.pc.poll(&mut self.outputs);
        }
        self.media = None;
    }

    fn on_joined(
        &mut self,
        now: Instant,
        joined: oriel_proto::Joined,
        sockets: &mut dyn SocketFactory,
    ) {
        self.state = SessionState::Joined;
        let info = JoinedInfo {
            session_id: joined.session_id,
            connection_id: joined.connection_id,
            participant_id: joined.participant_id,
            display_name: joined.display_name,
            role: self.role,
            participants: joined.participants.clone(),
            sfu_ids: joined.sub_sfus.iter().map(|s| s.sfu_id.clone()).collect(),
            simulcast: joined.simulcast,
            limits: joined.limits,
            opened_at: self.opened_at,
            joined_at: now,
        };
        self.info = Some(info.clone());
        self.emit(ClientEvent::Joined(Box::new(info)));
        for participant in joined.participants {
            if Some(participant.connection_id.as_str()) != self.own_connection_id() {
                self.add_participant(participant);
            }
        }
        // The SDK answers after `join()` resolved, in `sub_sfus` order.
        for sub_sfu in joined.sub_sfus {
            self.accept_sub_offer(now, &sub_sfu.sfu_id, &sub_sfu.sdp, sockets);
        }
        if joined.broadcasting {
            self.emit(ClientEvent::BroadcastStateChanged(true));
        }
        self.drive_all(now);
    }

    fn add_participant(&mut self, participant: oriel_proto::Participant) {
        for track in &participant.tracks {
            self.tid_owner
                .insert(track.tid.clone(), participant.connection_id.clone());
        }
        self.participants
            .insert(participant.connection_id.clone(), participant.clone());
        self.emit(ClientEvent::ParticipantJoined(participant));
    }

    fn on_mute(&mut self, connection_id: String, tid: String, muted: bool) {
        let Some(participant) = self.participants.get_mut(&connection_id) else {
            return;
        };
        let Some(track) = participant.tracks.iter_mut().find(|t| t.tid == tid) else {
            return;
        };
        track.muted = muted;
        self.emit(ClientEvent::TrackMuted {
            connection_id,
            tid,
            muted,
        });
    }

    fn accept_sub_offer(
        &mut self,
        now: Instant,
        sfu_id: &str,
        sdp: &str,
        sockets: &mut dyn SocketFactory,
    ) {
        let offer = match SdpOffer::from_sdp_string(sdp) {
            Ok(offer) => offer,
            Err(error) => {
                return self.emit(ClientEvent::ProtocolError(format!(
                    "subscriber offer of {sfu_id} is not SDP: {error}"
                )))
            }
        };
        let (index, new) = match self.subs.iter().position(|s| s.sfu_id == sfu_id) {
            Some(index) => (index, false),
            None => {
                let pc = match sockets
                    .bind()
                    .map_err(|e| ClientError::Socket(e.to_string()))
                    .and_then(|local| Pc::new(&self.rtc_config, local, now))
                {
                    Ok(pc) => pc,
                    Err(error) => return self.emit(ClientEvent::ProtocolError(error.to_string())),
                };
                self.subs.push(SubPc {
                    pc,
                    sfu_id: sfu_id.to_owned(),
                    tracks: HashMap::new(),
                    ssrcs: HashMap::new(),
                });
                (self.subs.len() - 1, true)
            }
        };
        let answer = self.subs[index].pc.rtc.sdp_api().accept_offer(offer);
        match answer {
            Ok(answer) => self.signal(ClientMessage::SubAnswer {
                sfu_id: sfu_id.to_owned(),
                sdp: answer.to_sdp_string(),
            }),
            Err(error) => {
                return self.emit(ClientEvent::ProtocolError(format!(
                    "subscriber offer of {sfu_id} refused: {error}"
                )))
            }
        }
        if new {
            if let Some(frame) = self.subs[index]
                .pc
                .candidate_frame(CandidateTarget::Subscriber, sfu_id)
            {
                self.outputs.push_back(Output::Signal(frame));
            }
        }
        self.flush_queued_candidates();
        self.drive(now, PcId::Sub(index));
    }

    fn apply_answer(&mut self, now: Instant, sdp: &str) {
        let Some(publisher) = &mut self.publisher else {
            return; // a subscriber ignores `answer`
        };
        let Some(pending) = publisher.pending_offer.take() else {
            return;
        };
        let result = SdpAnswer::from_sdp_string(sdp)
            .map_err(|e| e.to_string())
            .and_then(|answer| {
                publisher
                    .pc
                    .rtc
                    .sdp_api()
                    .accept_answer(pending, answer)
                    .map_err(|e| e.to_string())
            });
        if let Err(error) = result {
            self.emit(ClientEvent::ProtocolError(format!(
                "publisher answer refused: {error}"
            )));
        }
        self.flush_queued_candidates();
        self.drive(now, PcId::Pub);
    }

    fn on_candidate(&mut self, now: Instant, target: CandidateTarget, sfu_id: String, sdp: &str) {
        let Ok(candidate) = Candidate::from_sdp_string(sdp) else {
            return self.emit(ClientEvent::ProtocolError(format!(
                "unparsable ICE candidate {sdp:?}"
            )));
        };
        if self.queued_candidates.len() < MAX_QUEUED_CANDIDATES {
            self.queued_candidates.push((target, sfu_id, candidate));
        }
        self.flush_queued_candidates();
        self.drive_all(now);
    }

    /// Hands queued candidates to the peer connections that now exist (and have a remote
    /// description), keeping the others.
    fn flush_queued_candidates(&mut self) {
        let queued = std::mem::take(&mut self.queued_candidates);
        for (target, sfu_id, candidate) in queued {
            let rtc = match target {
                CandidateTarget::Subscriber => self
                    .subs
                    .iter_mut()
                    .find(|s| s.sfu_id == sfu_id)
                    .map(|s| &mut s.pc.rtc),
                CandidateTarget::Publisher => self
                    .publisher
                    .as_mut()
                    .filter(|p| p.pending_offer.is_none())
                    .map(|p| &mut p.pc.rtc),
            };
            match rtc {
                Some(rtc) => rtc.add_remote_candidate(candidate),
                None => self.queued_candidates.push((target, sfu_id, candidate)),
            }
        }
    }

    // ----- requests -----

    /// Publishes the synthetic microphone and/or camera: `pending_track`s, then the offer.
    pub fn publish(
        &mut self,
        now: Instant,
        options: &PublishOptions,
        sockets: &mut dyn SocketFactory,
    ) -> Result<Vec<PublishedTrack>, ClientError> {
        let info = match (self.state, &self.info) {
            (SessionState::Joined, Some(info)) => info,
            (SessionState::Ended, _) => return Err(ClientError::Closed),
            _ => return Err(ClientError::NotJoined),
        };
        if self.role != ParticipantRole::Publisher {
            return Err(ClientError::NotPublisher);
        }
        if self.publisher.is_some() {
            return Err(ClientError::AlreadyPublished);
        }
        if !options.audio && !options.video {
            return Err(ClientError::NothingToPublish);
        }
        let sfu_id = info.sfu_ids.first().cloned().ok_or(ClientError::NoSfu)?;
        let encodings = info.simulcast.camera_encodings.clone();
        let local = sockets
            .bind()
            .map_err(|e| ClientError::Socket(e.to_string()))?;
        let mut pc = Pc::new(&self.rtc_config, local, now)?;
        let mut changes = pc.rtc.sdp_api();
        let mut pending = Vec::new();
        let mut published = Vec::new();
        let mut audio_mid = None;
        let mut video = None;
        if options.audio {
            let tid = uuid::Uuid::new_v4().to_string();
            let mid = changes.add_media(
                MediaKind::Audio,
                Direction::SendOnly,
                None,
                Some(tid.clone()),
                None,
            );
            audio_mid = Some(mid);
            pending.push(PendingTrack {
                tid: tid.clone(),
                kind: TrackKind::Audio,
                name: "oriel synthetic microphone".into(),
                muted: false,
                source: TrackSource::Microphone,
                width: 0,
                height: 0,
                mid: mid.to_string(),
            });
            published.push(PublishedTrack {
                tid,
                kind: MediaKind::Audio,
                mid,
                rids: Vec::new(),
            });
        }
        if options.video {
            let tid = uuid::Uuid::new_v4().to_string();
            let layers: Vec<VideoLayer> = if options.simulcast && !encodings.is_empty() {
                encodings
                    .iter()
                    .map(|e| {
                        let scale = if e.scale_resolution_down_by >= 1.0 {
                            e.scale_resolution_down_by
                        } else {
                            1.0
                        };
                        VideoLayer {
                            rid: Some(e.rid.to_owned()),
                            bitrate_bps: if e.max_bitrate > 0 {
                                e.max_bitrate
                            } else {
                                SINGLE_STREAM_BPS
                            },
                            width: (f32::from(CAMERA_WIDTH) / scale) as u16,
                            height: (f32::from(CAMERA_HEIGHT) / scale) as u16,
                        }
                    })
                    .collect()
            } else {
                vec![VideoLayer {
                    rid: None,
                    bitrate_bps: SINGLE_STREAM_BPS,
                    width: CAMERA_WIDTH,
                    height: CAMERA_HEIGHT,
                }]
            };
            let rids: Vec<String> = layers.iter().filter_map(|l| l.rid.clone()).collect();
            let simulcast = (!rids.is_empty()).then(|| {
                let mut simulcast = Simulcast::new();
                for rid in &rids {
                    simulcast.add_send_layer(SimulcastLayer::new(rid));
                }
                simulcast
            });
            let mid = changes.add_media(
                MediaKind::Video,
                Direction::SendOnly,
                None,
                Some(tid.clone()),
                simulcast,
            );
            pending.push(PendingTrack {
                tid: tid.clone(),
                kind: TrackKind::Video,
                name: "oriel synthetic camera".into(),
                muted: false,
                source: TrackSource::Camera,
                width: u32::from(CAMERA_WIDTH),
                height: u32::from(CAMERA_HEIGHT),
                mid: mid.to_string(),
            });
            published.push(PublishedTrack {
                tid,
                kind: MediaKind::Video,
                mid,
                rids,
            });
            video = Some((
                mid,
                VideoSpec {
                    fps: options.fps,
                    layers,
                },
            ));
        }
        let Some((offer, pending_offer)) = changes.apply() else {
            return Err(ClientError::Negotiation(
                "the publisher offer had no changes".into(),
            ));
        };
        for track in pending {
            self.signal(ClientMessage::PendingTrack(track));
        }
        self.signal(ClientMessage::Offer(offer.to_sdp_string()));
        if let Some(frame) = pc.candidate_frame(CandidateTarget::Publisher, &sfu_id) {
            self.outputs.push_back(Output::Signal(frame));
        }
        self.media = Some(MediaSource::new(audio_mid, video));
        self.publisher = Some(PubPc {
            pc,
            pending_offer: Some(pending_offer),
        });
        self.published = published.clone();
        self.drive(now, PcId::Pub);
        Ok(published)
    }

    /// Sends a custom event; the result comes as [`ClientEvent::RequestDone`] with the
    /// returned request id.
    pub fn publish_custom_event(
        &mut self,
        now: Instant,
        payload: String,
    ) -> Result<String, ClientError> {
        let limits = self.joined_limits()?;
        if self.role != ParticipantRole::Publisher {
            return Err(ClientError::NotPublisher);
        }
        if payload.len() > MAX_CUSTOM_EVENT_BYTES {
            return Err(ClientError::PayloadTooLarge);
        }
        let per_second = limits.custom_events_per_second;
        if per_second == 0 {
            return Err(ClientError::RateLimited);
        }
        let cooldown = Duration::from_millis(1000 / u64::from(per_second));
        if self
            .last_custom_event
            .is_some_and(|at| now.saturating_duration_since(at) < cooldown)
        {
            return Err(ClientError::RateLimited);
        }
        self.last_custom_event = Some(now);
        let id = uuid::Uuid::new_v4().to_string();
        self.signal(ClientMessage::CustomEvent {
            id: id.clone(),
            payload,
            request_id: Some(id.clone()),
        });
        self.requests.insert(
            id.clone(),
            PendingRequest {
                kind: RequestKind::CustomEvent,
                deadline: now + REQUEST_TIMEOUT,
            },
        );
        Ok(id)
    }

    /// Asks for a new display name; the result comes as [`ClientEvent::RequestDone`].
    pub fn set_display_name(&mut self, now: Instant, name: String) -> Result<String, ClientError> {
        let limits = self.joined_limits()?;
        if name.chars().count() > MAX_DISPLAY_NAME_CHARS {
            return Err(ClientError::InvalidDisplayName);
        }
        let cooldown = Duration::from_secs(u64::from(limits.seconds_per_set_display_name));
        if self
            .last_display_name
            .is_some_and(|at| now.saturating_duration_since(at) < cooldown)
        {
            return Err(ClientError::RateLimited);
        }
        self.last_display_name = Some(now);
        let id = uuid::Uuid::new_v4().to_string();
        self.signal(ClientMessage::SetDisplayName {
            name: name.clone(),
            request_id: Some(id.clone()),
        });
        self.requests.insert(
            id.clone(),
            PendingRequest {
                kind: RequestKind::DisplayName(name),
                deadline: now + REQUEST_TIMEOUT,
            },
        );
        Ok(id)
    }

    /// Makes a received video track wait for a keyframe again: its publisher is sent PLIs (at
    /// most one per retry interval) until one arrives.
    pub fn request_keyframe(&mut self, tid: &str) {
        for sub in &mut self.subs {
            for track in sub.tracks.values_mut() {
                if track.tid == tid && track.kind == MediaKind::Video {
                    track.decodable = false;
                    track.last_pli = None;
                }
            }
        }
    }

    /// Manual mode: asks for (or drops) tracks of a participant; the reply comes as
    /// [`ClientEvent::SubscriptionReply`]. `max_height` (Oriel only): the tallest picture
    /// drawn of these videos, so the SFU forwards the smallest simulcast layer that fills it.
    pub fn subscribe_tracks(
        &mut self,
        connection_id: String,
        track_ids: Vec<String>,
        subscribe: bool,
        max_height: Option<u32>,
    ) -> Result<(), ClientError> {
        self.joined_limits()?;
        let request = vec![SubscriptionRequest {
            connection_id,
            track_ids,
            max_height,
        }];
        self.signal(if subscribe {
            ClientMessage::SubscribeTracks(request)
        } else {
            ClientMessage::UnsubscribeTracks(request)
        });
        Ok(())
    }

    fn joined_limits(&self) -> Result<oriel_proto::Limits, ClientError> {
        match (self.state, &self.info) {
            (SessionState::Joined, Some(info)) => Ok(info.limits),
            (SessionState::Ended, _) => Err(ClientError::Closed),
            _ => Err(ClientError::NotJoined),
        }
    }

    fn finish_request(&mut self, id: &str, result: Result<RequestOk, ClientError>) {
        let Some(request) = self.requests.remove(id) else {
            return;
        };
        if let (RequestKind::DisplayName(name), Ok(_)) = (&request.kind, &result) {
            if let Some(info) = &mut self.info {
                info.display_name = name.clone();
            }
        }
        self.emit(ClientEvent::RequestDone {
            request_id: id.to_owned(),
            result,
        });
    }

    // ----- network and time -----

    /// A datagram received on the local socket `destination`.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        contents: &[u8],
    ) {
        self.handle_datagram_arrived(now, now, source, destination, contents);
    }

    /// A datagram that reached the host at `arrival` (a kernel receive time, say) and is
    /// handled at `now`: media from it reports `arrival` ([`ReceivedPacket::arrival`]).
    pub fn handle_datagram_arrived(
        &mut self,
        now: Instant,
        arrival: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        contents: &[u8],
    ) {
        self.datagram_arrival = Some(arrival.min(now));
        self.handle_datagram_now(now, source, destination, contents);
        self.datagram_arrival = None;
    }

    fn handle_datagram_now(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        contents: &[u8],
    ) {
        if self.state == SessionState::Ended {
            return;
        }
        ClientCounters::add(&self.counters, &self.counters.datagrams_received, 1);
        let id = if let Some(index) = self.subs.iter().position(|s| s.pc.local == destination) {
            PcId::Sub(index)
        } else if self
            .publisher
            .as_ref()
            .is_some_and(|p| p.pc.local == destination)
        {
            PcId::Pub
        } else {
            return;
        };
        let Ok(receive) = Receive::new(Protocol::Udp, source, destination, contents) else {
            return;
        };
        let pc = match id {
            PcId::Sub(index) => &mut self.subs[index].pc,
            PcId::Pub => match &mut self.publisher {
                Some(p) => &mut p.pc,
                None => return,
            },
        };
        if !pc.alive {
            return;
        }
        if let Err(error) = pc.rtc.handle_input(Input::Receive(now, receive)) {
            tracing::debug!(%error, %source, "datagram refused");
        }
        self.drive(now, id);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == SessionState::Ended {
            return;
        }
        for index in 0..self.subs.len() {
            let pc = &mut self.subs[index].pc;
            if pc.next_timeout().is_some_and(|t| t <= now) {
                if let Err(error) = pc.rtc.handle_input(Input::Timeout(now)) {
                    tracing::debug!(%error, "subscriber peer connection timeout failed");
                }
                self.drive(now, PcId::Sub(index));
            }
        }
        if let Some(publisher) = &mut self.publisher {
            let pc = &mut publisher.pc;
            if pc.next_timeout().is_some_and(|t| t <= now) {
                if let Err(error) = pc.rtc.handle_input(Input::Timeout(now)) {
                    tracing::debug!(%error, "publisher peer connection timeout failed");
                }
            }
            if pc.alive {
                if let Some(media) = &mut self.media {
                    media.handle_timeout(now, &mut pc.rtc, &self.counters);
                }
            }
            self.drive(now, PcId::Pub);
        }
        let expired: Vec<String> = self
            .requests
            .iter()
            .filter(|(_, r)| r.deadline <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            self.finish_request(&id, Err(ClientError::Timeout));
        }
    }

    fn drive_all(&mut self, now: Instant) {
        for index in 0..self.subs.len() {
            self.drive(now, PcId::Sub(index));
        }
        if self.publisher.is_some() {
            self.drive(now, PcId::Pub);
        }
    }

    /// Drains a peer connection until str0m waits, handling its events.
    fn drive(&mut self, now: Instant, id: PcId) {
        loop {
            let polled = match id {
                PcId::Sub(index) => match self.subs.get_mut(index) {
                    Some(sub) => sub.pc.poll(&mut self.outputs),
                    None => return,
                },
                PcId::Pub => match &mut self.publisher {
                    Some(publisher) => publisher.pc.poll(&mut self.outputs),
                    None => return,
                },
            };
            match polled {
                Polled::Idle => return,
                Polled::Failed(error) => {
                    tracing::warn!(%error, ?id, "peer connection failed");
                    self.emit(ClientEvent::PeerDisconnected {
                        publisher: id == PcId::Pub,
                    });
                    return;
                }
                Polled::Event(event) => match id {
                    PcId::Sub(index) => self.on_sub_event(now, index, event),
                    PcId::Pub => self.on_pub_event(now, event),
                },
            }
        }
    }

    fn on_pub_event(&mut self, now: Instant, event: Event) {
        match event {
            Event::Connected => {
                let Some(publisher) = &mut self.publisher else {
                    return;
                };
                publisher.pc.connected = true;
                if let Some(media) = &mut self.media {
                    media.start(now, &publisher.pc.rtc);
                }
                self.emit(ClientEvent::PeerConnected {
                    publisher: true,
                    at: now,
                });
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) | Event::Closed => {
                self.emit(ClientEvent::PeerDisconnected { publisher: true })
            }
            Event::KeyframeRequest(request) => {
                ClientCounters::add(&self.counters, &self.counters.keyframe_requests_received, 1);
                if let Some(media) = &mut self.media {
                    media.request_keyframe(request.mid, request.rid);
                }
            }
            _ => {}
        }
    }

    fn on_sub_event(&mut self, now: Instant, index: usize, event: Event) {
        match event {
            Event::RtpPacket(packet) => self.on_rtp(now, index, &packet),
            Event::Connected => {
                self.subs[index].pc.connected = true;
                self.emit(ClientEvent::PeerConnected {
                    publisher: false,
                    at: now,
                });
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) | Event::Closed => {
                self.emit(ClientEvent::PeerDisconnected { publisher: false })
            }
            Event::MediaAdded(added) => {
                let sub = &mut self.subs[index];
                let tid = sub
                    .pc
                    .rtc
                    .media(added.mid)
                    .map(|m| m.stream_id().to_owned())
                    .unwrap_or_default();
                let connection_id = self.tid_owner.get(&tid).cloned();
                sub.tracks.insert(
                    added.mid,
                    RecvTrack {
                        tid: tid.clone(),
                        connection_id: connection_id.clone(),
                        kind: added.kind,
                        active: true,
                        decodable: false,
                        last_pli: None,
                        codec: None,
                    },
                );
                self.emit(ClientEvent::TrackSubscribed {
                    connection_id,
                    tid,
                    kind: added.kind,
                    mid: added.mid,
                });
            }
            Event::MediaChanged(changed) => {
                let Some(track) = self.subs[index].tracks.get_mut(&changed.mid) else {
                    return;
                };
                let active = changed.direction != Direction::Inactive;
                if active == track.active {
                    return;
                }
                track.active = active;
                let (tid, kind) = (track.tid.clone(), track.kind);
                let connection_id = track.connection_id.clone();
                if active {
                    self.emit(ClientEvent::TrackSubscribed {
                        connection_id,
                        tid,
                        kind,
                        mid: changed.mid,
                    });
                } else {
                    self.emit(ClientEvent::TrackUnsubscribed {
                        tid,
                        mid: changed.mid,
                    });
                }
            }
            _ => {}
        }
    }

    fn on_rtp(&mut self, now: Instant, index: usize, packet: &RtpPacket) {
        let Self {
            subs,
            delivery,
            outputs,
            counters,
            datagram_arrival,
            ..
        } = self;
        let sub = &mut subs[index];
        let ssrc = packet.header.ssrc;
        let mid = match sub.ssrcs.get(&ssrc) {
            Some(mid) => *mid,
            None => {
                let Some(mid) = sub.pc.rtc.direct_api().stream_rx(&ssrc).map(|s| s.mid()) else {
                    return;
                };
                sub.ssrcs.insert(ssrc, mid);
                mid
            }
        };
        let Some(track) = sub.tracks.get_mut(&mid) else {
            return;
        };
        counters.record_received(packet.payload.len());
        let pt = packet.header.payload_type;
        if track.codec.is_none_or(|(known, _)| known != pt) {
            track.codec = sub
                .pc
                .rtc
                .codec_config()
                .find(|p| p.pt() == pt)
                .map(|p| (pt, p.spec().codec));
        }
        let codec = track.codec.map(|(_, codec)| codec);
        // Like a browser's decoder: ask for a keyframe while there is none to start from.
        if track.kind == MediaKind::Video && !track.decodable {
            let start = match codec {
                Some(Codec::H264) => Some(oriel_media::h264::is_keyframe(&packet.payload)),
                _ => stamp::vp8_frame_start(&packet.payload),
            };
            match start {
                Some(true) => track.decodable = true,
                Some(false) if track.last_pli.is_none_or(|at| now - at >= PLI_RETRY) => {
                    track.last_pli = Some(now);
                    if let Some(stream) = sub.pc.rtc.direct_api().stream_rx(&ssrc) {
                        stream.request_keyframe(KeyframeRequestKind::Pli);
                        ClientCounters::add(counters, &counters.plis_sent, 1);
                    }
                }
                _ => {}
            }
        }
        let received = ReceivedPacket {
            tid: &track.tid,
            connection_id: track.connection_id.as_deref(),
            kind: track.kind,
            mid,
            codec,
            ssrc: *ssrc,
            seq: *packet.seq_no,
            rtp_timestamp: packet.header.timestamp,
            marker: packet.header.marker,
            audio_level: packet.header.ext_vals.audio_level,
            voice_activity: packet.header.ext_vals.voice_activity,
            payload: &packet.payload,
            arrival: datagram_arrival.unwrap_or(packet.timestamp),
            sent_at: stamp::read(track.kind, &packet.payload),
        };
        match delivery {
            MediaDelivery::Events => outputs.push_back(Output::Event(ClientEvent::Media(
                MediaPacket::from(&received),
            ))),
            MediaDelivery::Sink(sink) => sink.on_packet(&received),
            MediaDelivery::Discard => {}
        }
    }
}
