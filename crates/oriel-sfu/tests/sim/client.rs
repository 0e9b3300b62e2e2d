//! A simulated browser running `@mux/spaces-web`: one subscriber PC, maybe one publisher PC,
//! and the SDK's side of the signaling.
//!
//! Each PC is a str0m `Rtc` in full-ICE (controlling) mode, in RTP mode so the test sees
//! every packet's sequence number, timestamp and payload as they arrived. The signaling
//! follows the SDK:
//!
//! * on `joined`, answer every `sub_sfus` offer with `sub_answer`;
//! * to publish, send one `pending_track` (tid, mid) per transceiver, then the publisher PC's
//!   `offer` (sendonly; the camera with simulcast rids q, h, f), then apply the `answer`;
//! * answer every later `sub_offer`;
//! * trickle each PC's host candidate with `candidate`.
//!
//! Frames go out as the SDK's JSON text, so the server side parses them with
//! `ClientMessage::parse` exactly as the real shell would.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use oriel_proto::{ParticipantRole, ServerMessage};
use oriel_sfu::ConnectionKey;
use serde_json::json;
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, KeyframeRequestKind, MediaKind, Mid, Simulcast, SimulcastLayer};
use str0m::net::{Protocol, Receive};
use str0m::rtp::RtpPacket;
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};

use super::link::{Datagram, Link, LinkConfig};
use super::media::{MediaSource, Probe, VideoConfig, Vp8Info, LAYERS};
use super::recorder::{RecvPacket, RecvTrack, WireLog};
use super::rng::Rng;

/// How often a subscriber without a decodable keyframe asks again.
const KEYFRAME_RETRY: Duration = Duration::from_millis(300);

/// What a simulated participant is and does.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub name: String,
    pub role: ParticipantRole,
    /// `managed_subscriptions` of the join URL: 0 manual, 1 to 20 automatic.
    pub managed_subscriptions: u8,
    pub publish_audio: bool,
    pub publish_video: Option<VideoConfig>,
    pub uplink: LinkConfig,
    pub downlink: LinkConfig,
}

impl ClientConfig {
    /// A publisher with a microphone and a simulcast camera, receiving everyone.
    pub fn publisher(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            role: ParticipantRole::Publisher,
            managed_subscriptions: 20,
            publish_audio: true,
            publish_video: Some(VideoConfig::default()),
            uplink: LinkConfig::clean(),
            downlink: LinkConfig::clean(),
        }
    }

    /// A subscriber-only participant, receiving everyone.
    pub fn subscriber(name: &str) -> Self {
        Self {
            role: ParticipantRole::Subscriber,
            publish_audio: false,
            publish_video: None,
            ..Self::publisher(name)
        }
    }

    pub fn links(mut self, link: LinkConfig) -> Self {
        self.uplink = link;
        self.downlink = link;
        self
    }

    /// Joins as a publisher but publishes nothing by itself (the test drives its signaling).
    pub fn no_media(mut self) -> Self {
        self.publish_audio = false;
        self.publish_video = None;
        self
    }

    pub fn downlink(mut self, link: LinkConfig) -> Self {
        self.downlink = link;
        self
    }
}

/// One str0m peer connection and when it next wants time.
pub struct Pc {
    pub rtc: Rtc,
    pub addr: SocketAddr,
    pub connected: bool,
    timeout: Option<Instant>,
}

impl Pc {
    fn new(addr: SocketAddr, now: Instant) -> Self {
        let mut rtc = RtcConfig::new()
            .set_rtp_mode(true)
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true)
            .build(now);
        let candidate = Candidate::host(addr, "udp").expect("a host candidate for a valid address");
        rtc.add_local_candidate(candidate);
        Self {
            rtc,
            addr,
            connected: false,
            timeout: Some(now),
        }
    }

    fn candidate_frame(&self, target: u8, sfu_id: &str) -> String {
        let candidate = Candidate::host(self.addr, "udp").expect("valid host candidate");
        json!({ "candidate": {
            "candidate": {
                "candidate": candidate.to_sdp_string(),
                "sdp_mline_index": 0,
                "sdp_mid": "0",
                "username_fragment": null,
            },
            "type": target,
            "sfu_id": sfu_id,
        }})
        .to_string()
    }

    /// Drains str0m until it waits: datagrams onto `uplink`, events returned.
    fn drain(&mut self, now: Instant, uplink: &mut Link, wire: &mut WireLog) -> Vec<Event> {
        let mut events = Vec::new();
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(at)) => {
                    self.timeout = Some(at);
                    return events;
                }
                Ok(Output::Transmit(t)) => {
                    wire.record(now, &t.contents);
                    uplink.send(
                        now,
                        Datagram {
                            source: t.source,
                            destination: t.destination,
                            contents: t.contents.into(),
                        },
                    );
                }
                Ok(Output::Event(event)) => events.push(event),
                Err(error) => panic!("client Rtc failed at {:?}: {error}", self.addr),
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientState {
    Joined,
    /// Left by itself (`Space::leave`).
    Left,
    /// Closed by the server (`Output::Close`).
    Closed,
}

/// The transceivers of a publisher PC.
#[derive(Clone, Copy, Debug, Default)]
pub struct PublishedMids {
    pub audio: Option<Mid>,
    pub video: Option<Mid>,
}

pub struct Client {
    pub index: usize,
    pub key: ConnectionKey,
    pub connection_id: String,
    pub config: ClientConfig,
    pub state: ClientState,
    pub sub: Pc,
    pub publisher: Option<Pc>,
    pub published: PublishedMids,
    pending_publisher_offer: Option<SdpPendingOffer>,
    sfu_id: Option<String>,
    pub media: Option<MediaSource>,
    pub uplink: Link,
    pub downlink: Link,
    /// JSON frames for the server, taken by the simulation.
    pub outbox: Vec<String>,
    /// The SDP of every publisher offer sent, in order.
    pub sent_offers: Vec<String>,
    /// Every server message received, in order.
    pub signals: Vec<(Instant, ServerMessage)>,
    /// Consumers of the subscriber PC, by mid.
    pub tracks: BTreeMap<Mid, RecvTrack>,
    /// The SFU's RTP towards this client, as sent (before the downlink).
    pub wire: WireLog,
    /// This client's RTP towards the SFU, as sent (before the uplink).
    pub sent: WireLog,
    /// What the SDK would have thrown (an SDP it could not apply, ...).
    pub errors: Vec<String>,
    ssrc_to_mid: HashMap<u32, Mid>,
    rng: Rng,
}

impl Client {
    pub fn new(index: usize, config: ClientConfig, now: Instant, rng: Rng) -> Self {
        // 10.0.0.1 is the SFU; clients are 10.0.0.2 and up. Two ports: one per PC, as a
        // browser gathers a host candidate per peer connection.
        let ip = std::net::Ipv4Addr::new(10, 0, (index / 250) as u8, (index % 250 + 2) as u8);
        let sub_addr = SocketAddr::from((ip, 6000));
        Self {
            index,
            key: ConnectionKey(index as u64 + 1),
            connection_id: format!("conn-{index}-{}", config.name),
            sub: Pc::new(sub_addr, now),
            publisher: None,
            published: PublishedMids::default(),
            pending_publisher_offer: None,
            sfu_id: None,
            media: None,
            uplink: Link::new(config.uplink, rng.fork(1)),
            downlink: Link::new(config.downlink, rng.fork(2)),
            outbox: Vec::new(),
            signals: Vec::new(),
            sent_offers: Vec::new(),
            tracks: BTreeMap::new(),
            wire: WireLog::default(),
            sent: WireLog::default(),
            errors: Vec::new(),
            ssrc_to_mid: HashMap::new(),
            state: ClientState::Joined,
            config,
            rng,
        }
    }

    pub fn is_active(&self) -> bool {
        self.state == ClientState::Joined
    }

    pub fn owns(&self, addr: SocketAddr) -> bool {
        self.sub.addr == addr || self.publisher.as_ref().is_some_and(|p| p.addr == addr)
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.is_active() {
            return None;
        }
        let publisher = self.publisher.as_ref().and_then(|p| p.timeout);
        let media = self.media.as_ref().and_then(MediaSource::poll_timeout);
        [self.sub.timeout, publisher, media]
            .into_iter()
            .flatten()
            .min()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.sub.timeout.is_some_and(|t| t <= now) {
            if let Err(e) = self.sub.rtc.handle_input(Input::Timeout(now)) {
                self.errors.push(format!("subscriber PC timeout: {e}"));
            }
        }
        if let Some(publisher) = &mut self.publisher {
            if publisher.timeout.is_some_and(|t| t <= now) {
                if let Err(e) = publisher.rtc.handle_input(Input::Timeout(now)) {
                    self.errors.push(format!("publisher PC timeout: {e}"));
                }
            }
            if let Some(media) = &mut self.media {
                media.handle_timeout(now, &mut publisher.rtc);
            }
        }
        self.drain(now);
    }

    pub fn handle_datagram(&mut self, now: Instant, datagram: &Datagram) {
        let pc = if self.sub.addr == datagram.destination {
            &mut self.sub
        } else if let Some(publisher) = self
            .publisher
            .as_mut()
            .filter(|p| p.addr == datagram.destination)
        {
            publisher
        } else {
            return;
        };
        let Ok(receive) = Receive::new(
            Protocol::Udp,
            datagram.source,
            datagram.destination,
            &datagram.contents,
        ) else {
            return;
        };
        if let Err(e) = pc.rtc.handle_input(Input::Receive(now, receive)) {
            self.errors.push(format!("datagram refused: {e}"));
        }
        self.drain(now);
    }

    /// Drains both PCs until str0m waits, handling the events (which may write more).
    pub fn drain(&mut self, now: Instant) {
        loop {
            let sub_events = self.sub.drain(now, &mut self.uplink, &mut self.sent);
            let pub_events = match &mut self.publisher {
                Some(p) => p.drain(now, &mut self.uplink, &mut self.sent),
                None => Vec::new(),
            };
            if sub_events.is_empty() && pub_events.is_empty() {
                return;
            }
            for event in sub_events {
                self.on_subscriber_event(now, event);
            }
            for event in pub_events {
                self.on_publisher_event(now, event);
            }
        }
    }

    fn on_subscriber_event(&mut self, now: Instant, event: Event) {
        match event {
            Event::Connected => self.sub.connected = true,
            Event::MediaAdded(added) => {
                let stream_id = self
                    .sub
                    .rtc
                    .media(added.mid)
                    .map(|m| m.stream_id().to_owned())
                    .unwrap_or_default();
                self.tracks.insert(
                    added.mid,
                    RecvTrack {
                        mid: added.mid,
                        kind: added.kind,
                        stream_id,
                        inactive: false,
                        packets: Vec::new(),
                        decodable: false,
                        last_pli: None,
                        plis: 0,
                    },
                );
            }
            Event::MediaChanged(changed) => {
                if let Some(track) = self.tracks.get_mut(&changed.mid) {
                    track.inactive = changed.direction == Direction::Inactive;
                }
            }
            Event::RtpPacket(packet) => self.on_rtp(now, &packet),
            _ => {}
        }
    }

    fn on_rtp(&mut self, now: Instant, packet: &RtpPacket) {
        let ssrc = *packet.header.ssrc;
        let mid = match self.ssrc_to_mid.get(&ssrc) {
            Some(mid) => *mid,
            None => {
                let Some(mid) = self
                    .sub
                    .rtc
                    .direct_api()
                    .stream_rx(&packet.header.ssrc)
                    .map(|s| s.mid())
                else {
                    self.errors.push(format!("RTP on unknown SSRC {ssrc}"));
                    return;
                };
                self.ssrc_to_mid.insert(ssrc, mid);
                mid
            }
        };
        let Some(track) = self.tracks.get_mut(&mid) else {
            self.errors
                .push(format!("RTP for mid {mid} without MediaAdded"));
            return;
        };
        let vp8 = (track.kind == MediaKind::Video)
            .then(|| Vp8Info::parse(&packet.payload))
            .flatten();
        // The decoder, as far as keyframes go: like Chrome, it asks for a keyframe (PLI)
        // while it has none to start from, at most every KEYFRAME_RETRY.
        if let Some(vp8) = vp8 {
            if vp8.keyframe {
                track.decodable = true;
            } else if !track.decodable
                && vp8.frame_start
                && track.last_pli.is_none_or(|at| now - at >= KEYFRAME_RETRY)
            {
                track.last_pli = Some(now);
                track.plis += 1;
                if let Some(stream) = self.sub.rtc.direct_api().stream_rx(&packet.header.ssrc) {
                    stream.request_keyframe(KeyframeRequestKind::Pli);
                }
            }
        }
        track.packets.push(RecvPacket {
            at: now,
            seq: *packet.seq_no,
            timestamp: packet.header.timestamp,
            marker: packet.header.marker,
            ssrc,
            audio_level: packet.header.ext_vals.audio_level,
            probe: Probe::read(&packet.payload),
            vp8,
        });
    }

    fn on_publisher_event(&mut self, now: Instant, event: Event) {
        match event {
            Event::Connected => {
                if let Some(publisher) = &mut self.publisher {
                    publisher.connected = true;
                }
                // Like a browser, the encoders start once the transport is up.
                if self.media.is_none() {
                    let video = self.published.video.zip(self.config.publish_video);
                    let mut rng = self.rng.fork(3);
                    self.media = Some(MediaSource::new(
                        self.index as u8,
                        now,
                        self.published.audio,
                        video,
                        &mut rng,
                    ));
                }
            }
            Event::KeyframeRequest(request) => {
                if let Some(media) = &mut self.media {
                    media.request_keyframe(request.mid, request.rid);
                }
            }
            _ => {}
        }
    }

    // ----- signaling -----

    pub fn handle_signal(&mut self, now: Instant, message: ServerMessage) {
        match &message {
            ServerMessage::Joined(joined) => {
                for sub_sfu in &joined.sub_sfus {
                    self.answer_sub_offer(now, &sub_sfu.sfu_id, &sub_sfu.sdp);
                }
                if let Some(sfu_id) = joined.sub_sfus.first().map(|s| s.sfu_id.clone()) {
                    self.outbox.push(self.sub.candidate_frame(1, &sfu_id));
                    self.sfu_id = Some(sfu_id);
                }
                if self.config.publish_audio || self.config.publish_video.is_some() {
                    self.publish(now);
                }
            }
            ServerMessage::SubOffer { sfu_id, sdp } => self.answer_sub_offer(now, sfu_id, sdp),
            ServerMessage::Answer(sdp) => self.apply_answer(now, sdp),
            _ => {}
        }
        self.signals.push((now, message));
    }

    fn answer_sub_offer(&mut self, now: Instant, sfu_id: &str, sdp: &str) {
        let offer = match SdpOffer::from_sdp_string(sdp) {
            Ok(offer) => offer,
            Err(e) => return self.errors.push(format!("sub offer unparsable: {e}")),
        };
        match self.sub.rtc.sdp_api().accept_offer(offer) {
            Ok(answer) => self.outbox.push(
                json!({ "sub_answer": { "sfu_id": sfu_id, "sdp": answer.to_sdp_string() } })
                    .to_string(),
            ),
            Err(e) => self.errors.push(format!("sub offer refused: {e}")),
        }
        self.drain(now);
    }

    /// Opens the publisher PC with the microphone and the simulcast camera.
    fn publish(&mut self, now: Instant) {
        let ip = self.sub.addr.ip();
        let mut pc = Pc::new(SocketAddr::new(ip, 6001), now);
        let name = self.config.name.clone();
        let mut changes = pc.rtc.sdp_api();
        let mut pending = Vec::new();
        if self.config.publish_audio {
            let tid = format!("{name}-mic");
            let mid = changes.add_media(
                MediaKind::Audio,
                Direction::SendOnly,
                Some(tid.clone()),
                Some(tid.clone()),
                None,
            );
            self.published.audio = Some(mid);
            pending.push(json!({ "pending_track": {
                "tid": tid, "type": 1, "name": "fake_microphone", "muted": false,
                "source": "microphone", "width": 0, "height": 0, "mid": mid.to_string(),
            }}));
        }
        if self.config.publish_video.is_some() {
            let tid = format!("{name}-cam");
            let mut simulcast = Simulcast::new();
            for layer in &LAYERS {
                simulcast.add_send_layer(SimulcastLayer::new(layer.rid));
            }
            let mid = changes.add_media(
                MediaKind::Video,
                Direction::SendOnly,
                Some(tid.clone()),
                Some(tid.clone()),
                Some(simulcast),
            );
            self.published.video = Some(mid);
            let full = LAYERS[LAYERS.len() - 1];
            pending.push(json!({ "pending_track": {
                "tid": tid, "type": 2, "name": "fake_camera", "muted": false,
                "source": "camera", "width": full.width, "height": full.height,
                "mid": mid.to_string(),
            }}));
        }
        let Some((offer, pending_offer)) = changes.apply() else {
            return self.errors.push("publisher offer had no changes".into());
        };
        self.pending_publisher_offer = Some(pending_offer);
        for frame in pending {
            self.outbox.push(frame.to_string());
        }
        self.send_offer(offer.to_sdp_string());
        // The SDK reuses the first sub SFU's id for the publisher PC.
        let sfu_id = self.sfu_id.clone().unwrap_or_default();
        self.outbox.push(pc.candidate_frame(2, &sfu_id));
        self.publisher = Some(pc);
        self.drain(now);
    }

    /// Unpublishes the camera: its transceiver goes inactive in a new offer.
    pub fn unpublish_video(&mut self, now: Instant) {
        let (Some(publisher), Some(mid)) = (&mut self.publisher, self.published.video) else {
            return;
        };
        if let Some(media) = &mut self.media {
            media.stop_video();
        }
        let mut changes = publisher.rtc.sdp_api();
        changes.set_direction(mid, Direction::Inactive);
        let Some((offer, pending)) = changes.apply() else {
            return self.errors.push("unpublish produced no offer".into());
        };
        self.pending_publisher_offer = Some(pending);
        self.send_offer(offer.to_sdp_string());
        self.drain(now);
    }

    fn send_offer(&mut self, sdp: String) {
        self.outbox.push(json!({ "offer": sdp }).to_string());
        self.sent_offers.push(sdp);
    }

    fn apply_answer(&mut self, now: Instant, sdp: &str) {
        let (Some(publisher), Some(pending)) =
            (&mut self.publisher, self.pending_publisher_offer.take())
        else {
            return self.errors.push("answer without a pending offer".into());
        };
        let answer = match SdpAnswer::from_sdp_string(sdp) {
            Ok(answer) => answer,
            Err(e) => return self.errors.push(format!("answer unparsable: {e}")),
        };
        if let Err(e) = publisher.rtc.sdp_api().accept_answer(pending, answer) {
            self.errors.push(format!("answer refused: {e}"));
        }
        self.drain(now);
    }

    // ----- what it saw -----

    /// The consumers (m-lines) whose payloads come from `source`, of one kind.
    pub fn tracks_from(&self, source: usize, kind: MediaKind) -> Vec<&RecvTrack> {
        self.tracks
            .values()
            .filter(|t| t.kind == kind && t.source() == Some(source as u8))
            .collect()
    }

    /// Received media packets from `source` of `kind` since `since`, over all its consumers.
    pub fn received_from_since(&self, source: usize, kind: MediaKind, since: Instant) -> usize {
        self.tracks_from(source, kind)
            .iter()
            .map(|t| t.packets_since(since))
            .sum()
    }

    pub fn signals_matching(&self, f: impl Fn(&ServerMessage) -> bool) -> usize {
        self.signals.iter().filter(|(_, m)| f(m)).count()
    }
}
