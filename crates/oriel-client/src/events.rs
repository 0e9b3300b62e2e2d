//! What a client tells its application, and the errors it can give.

use std::time::Instant;

use oriel_proto::{ErrorType, Participant, RequestErrorType, SignalError, Track};
use str0m::format::Codec;
use str0m::media::{MediaKind, Mid};

/// The local participant as `joined` described it.
#[derive(Clone, Debug)]
pub struct JoinedInfo {
    pub session_id: String,
    pub connection_id: String,
    pub participant_id: String,
    pub display_name: String,
    /// The role the join token granted (read from the token, as the SDK does).
    pub role: oriel_proto::ParticipantRole,
    /// Everyone else in the space at join time.
    pub participants: Vec<Participant>,
    pub sfu_ids: Vec<String>,
    pub simulcast: oriel_proto::SimulcastSettings,
    pub limits: oriel_proto::Limits,
    /// When the WebSocket opened and when `joined` arrived.
    pub opened_at: Instant,
    pub joined_at: Instant,
}

/// A published track of this client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedTrack {
    pub tid: String,
    pub kind: MediaKind,
    pub mid: Mid,
    /// Simulcast rids, lowest first (empty for audio or a single stream).
    pub rids: Vec<String>,
}

/// A received media packet, borrowed for the duration of a [`MediaSink`] call.
#[derive(Debug)]
pub struct ReceivedPacket<'a> {
    /// The publisher's track id (the msid stream id of the subscriber m-line).
    pub tid: &'a str,
    /// The publisher's connection, when the track was announced before its media.
    pub connection_id: Option<&'a str>,
    pub kind: MediaKind,
    pub mid: Mid,
    /// The codec of the packet's payload type (a publisher's browser picks VP8 or H.264).
    pub codec: Option<Codec>,
    pub ssrc: u32,
    /// Extended (64-bit) RTP sequence number.
    pub seq: u64,
    pub rtp_timestamp: u32,
    pub marker: bool,
    /// RFC 6464 audio level, `-dBov`.
    pub audio_level: Option<i8>,
    pub voice_activity: Option<bool>,
    pub payload: &'a [u8],
    /// When the datagram reached this host: the kernel's receive time when the driver has it
    /// (see [`crate::kernel_receive`]), else when it was read from the socket.
    pub arrival: Instant,
    /// The send stamp embedded by an `oriel-client` publisher in this process, if any.
    pub sent_at: Option<Instant>,
}

/// An owned [`ReceivedPacket`], as delivered in [`ClientEvent::Media`].
#[derive(Clone, Debug)]
pub struct MediaPacket {
    pub tid: String,
    pub connection_id: Option<String>,
    pub kind: MediaKind,
    pub mid: Mid,
    pub ssrc: u32,
    pub seq: u64,
    pub rtp_timestamp: u32,
    pub marker: bool,
    pub audio_level: Option<i8>,
    pub voice_activity: Option<bool>,
    pub payload: Vec<u8>,
    pub arrival: Instant,
    pub sent_at: Option<Instant>,
}

impl From<&ReceivedPacket<'_>> for MediaPacket {
    fn from(p: &ReceivedPacket<'_>) -> Self {
        Self {
            tid: p.tid.to_owned(),
            connection_id: p.connection_id.map(str::to_owned),
            kind: p.kind,
            mid: p.mid,
            ssrc: p.ssrc,
            seq: p.seq,
            rtp_timestamp: p.rtp_timestamp,
            marker: p.marker,
            audio_level: p.audio_level,
            voice_activity: p.voice_activity,
            payload: p.payload.to_vec(),
            arrival: p.arrival,
            sent_at: p.sent_at,
        }
    }
}

/// Receives every media packet synchronously, inside the client's task: the cheap path for
/// tools that measure many clients (no allocation, no channel per packet).
pub trait MediaSink: Send + 'static {
    fn on_packet(&mut self, packet: &ReceivedPacket<'_>);
}

impl<F: FnMut(&ReceivedPacket<'_>) + Send + 'static> MediaSink for F {
    fn on_packet(&mut self, packet: &ReceivedPacket<'_>) {
        self(packet)
    }
}

/// Where received media goes.
pub enum MediaDelivery {
    /// As [`ClientEvent::Media`] on the event stream (copies each payload).
    Events,
    /// To a sink called inside the client's task.
    Sink(Box<dyn MediaSink>),
    /// Nowhere (still counted in [`crate::ClientCounters`]).
    Discard,
}

impl std::fmt::Debug for MediaDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Events => "Events",
            Self::Sink(_) => "Sink",
            Self::Discard => "Discard",
        })
    }
}

/// One entry of `active_speakers`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Speaker {
    pub connection_id: String,
    pub track_id: String,
}

/// What happened, in the order it happened.
#[derive(Clone, Debug)]
pub enum ClientEvent {
    /// The session joined (the driver hands this to `connect` rather than the stream).
    Joined(Box<JoinedInfo>),
    /// The join was refused or failed; the session is over.
    JoinFailed(JoinError),
    /// Someone else is in the space (from `joined` or `participant_connected`).
    ParticipantJoined(Participant),
    ParticipantLeft {
        connection_id: String,
    },
    TrackAdded {
        connection_id: String,
        track: Track,
    },
    TrackRemoved {
        connection_id: String,
        tid: String,
    },
    TrackMuted {
        connection_id: String,
        tid: String,
        muted: bool,
    },
    /// A subscriber m-line now carries a remote track (at SDP time, before media flows).
    TrackSubscribed {
        connection_id: Option<String>,
        tid: String,
        kind: MediaKind,
        mid: Mid,
    },
    /// A subscriber m-line went inactive.
    TrackUnsubscribed {
        tid: String,
        mid: Mid,
    },
    /// ICE and DTLS are up on a peer connection.
    PeerConnected {
        publisher: bool,
        at: Instant,
    },
    /// ICE lost the peer, or the peer connection closed.
    PeerDisconnected {
        publisher: bool,
    },
    /// A received media packet ([`MediaDelivery::Events`] only).
    Media(MediaPacket),
    /// The current speakers, loudest first; sent on every `active_speakers`.
    ActiveSpeakers(Vec<Speaker>),
    /// Another participant's custom event.
    CustomEvent {
        connection_id: String,
        payload: String,
        sequence_num: u64,
    },
    DisplayNameChanged {
        connection_id: String,
        display_name: String,
    },
    BroadcastStateChanged(bool),
    /// The reply to `subscribe_tracks` / `unsubscribe_tracks` (manual mode).
    SubscriptionReply {
        subscribe: bool,
        successes: Vec<String>,
        failures: Vec<String>,
    },
    /// A request finished (the driver resolves the request's future with it).
    RequestDone {
        request_id: String,
        result: Result<RequestOk, ClientError>,
    },
    /// An `error` after join that no pending request claimed.
    ServerError(SignalError),
    /// Something the server sent could not be used (an unparsable frame, an SDP str0m
    /// refused); the session goes on, as the SDK's would.
    ProtocolError(String),
    /// The signaling connection ended after join.
    Closed {
        code: Option<u16>,
        reason: String,
    },
}

/// What a successful request returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestOk {
    /// The echo of our custom event, with the sequence number the server gave it.
    CustomEvent {
        sequence_num: u64,
    },
    DisplayName,
}

/// Why a join did not happen (the SDK's `join()` rejections, and a few of our own).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum JoinError {
    /// Error type 6: the token is not valid for this server.
    #[error("invalid join token: {0}")]
    InvalidJwt(String),
    /// Error type 3: this participant id is already connected.
    #[error("duplicate participant: {0}")]
    Duplicate(String),
    /// Error type 7.
    #[error("participant limit reached: {0}")]
    ParticipantLimit(String),
    /// Any other `error` before `joined`.
    #[error("join refused ({error_type:?}): {message}")]
    Refused {
        error_type: ErrorType,
        message: String,
    },
    /// The socket closed before `joined` or `error` (the SDK would hang forever).
    #[error("the server closed the connection before joining")]
    ClosedBeforeJoin,
    /// `joined` did not arrive in time.
    #[error("no answer to the join within the time limit")]
    Timeout,
    /// The WebSocket could not be opened.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The first server message was not usable.
    #[error("protocol error: {0}")]
    Protocol(String),
}

impl JoinError {
    pub(crate) fn from_signal(error_type: ErrorType, message: String) -> Self {
        match error_type {
            ErrorType::InvalidJwt => Self::InvalidJwt(message),
            ErrorType::DuplicateParticipantRejected => Self::Duplicate(message),
            ErrorType::ParticipantLimitReached => Self::ParticipantLimit(message),
            error_type => Self::Refused {
                error_type,
                message,
            },
        }
    }
}

/// Why an operation of a joined client failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Join(#[from] JoinError),
    #[error("the client has not joined")]
    NotJoined,
    #[error("the client has left or was disconnected")]
    Closed,
    #[error("a subscriber cannot publish")]
    NotPublisher,
    #[error("tracks are already published")]
    AlreadyPublished,
    #[error("nothing to publish")]
    NothingToPublish,
    #[error("the server offered no SFU to publish to")]
    NoSfu,
    #[error("custom event payload is larger than 4096 bytes")]
    PayloadTooLarge,
    #[error("display name must be 1 to 64 characters")]
    InvalidDisplayName,
    /// Refused locally because the server's `limits` would refuse it (as the SDK does).
    #[error("rate limited by the server's limits")]
    RateLimited,
    /// The server answered the request with an `error`.
    #[error("request refused ({error_type:?}): {message}")]
    Refused {
        error_type: RequestErrorType,
        message: String,
    },
    /// No answer within 30 s (the SDK's request timeout).
    #[error("the request timed out")]
    Timeout,
    #[error("could not bind a UDP socket: {0}")]
    Socket(String),
    #[error("WebRTC negotiation failed: {0}")]
    Negotiation(String),
}
