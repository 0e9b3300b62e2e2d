//! One Janus participant: a WebSocket with its Janus session and VideoRoom handle, one UDP
//! socket on 127.0.0.1, and one str0m `Rtc` in RTP mode, driven by one tokio task, like an
//! `oriel-client` client (same peer-connection template, same synthetic media, same probe).
//!
//! * A **publisher** joins as `publisher`, offers audio (Opus with audio levels) and, unless
//!   audio-only, VP8 simulcast q/h/f (`a=simulcast`, rids lowest first: `rid_order: "lmh"`)
//!   with `publish`, applies Janus's answer, and sends [`oriel_client::media`]'s media once
//!   ICE and DTLS are up.
//! * A **subscriber** joins as `subscriber` with every feed in `streams`, answers Janus's
//!   offer with `start`, and measures what arrives ([`oriel_loadtest::Probe`], as `oriel load-test` does); like a
//!   browser's decoder it sends a PLI every 300 ms on a video stream until a keyframe came.
//!
//! Both sides put their candidates in the SDP (`trickle: false`; Janus waits for its own
//! gathering before sending an SDP). Keepalives every 20 s keep the Janus session alive.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use oriel_client::kernel_receive::{self, BatchReceiver};
use oriel_client::media::{MediaSource, VideoLayer, VideoSpec};
use oriel_client::str0m::change::{SdpAnswer, SdpOffer};
use oriel_client::str0m::media::{
    Direction, KeyframeRequestKind, MediaKind, Mid, Simulcast, SimulcastLayer,
};
use oriel_client::str0m::net::{Protocol, Receive};
use oriel_client::str0m::rtp::Ssrc;
use oriel_client::str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig};
use oriel_client::{stamp, ClientCounters};
use serde_json::{json, Value};
use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::janus::{jsep_sdp, plugin_data, Frame, JanusWs};
use oriel_loadtest::{Metrics, Probe, Received, Tally};

/// Each signaling step's bound.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);
/// Keepalive period (Janus's session timeout is 60 s).
const KEEPALIVE: Duration = Duration::from_secs(20);
/// Datagrams read per wake-up (as `oriel-client`).
const RECV_BATCH: usize = 64;
/// A subscriber without a keyframe asks again this often (as `oriel-client`).
const PLI_RETRY: Duration = Duration::from_millis(300);
/// How long leaving may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// Camera layers: exactly those Oriel asks its publishers for (`oriel-sfu` `LAYERS`:
/// q 150 kbit/s at 1/4 size, h 500 kbit/s at 1/2, f 1.5 Mbit/s at 1280x720), 30 fps.
pub fn camera_spec() -> VideoSpec {
    let layer = |rid: &str, bitrate_bps, scale: u16| VideoLayer {
        rid: Some(rid.to_owned()),
        bitrate_bps,
        width: 1280 / scale,
        height: 720 / scale,
    };
    VideoSpec {
        fps: 30,
        layers: vec![
            layer("q", 150_000, 4),
            layer("h", 500_000, 2),
            layer("f", 1_500_000, 1),
        ],
    }
}

/// The peer-connection template of `oriel-client` (RTP mode, full ICE, the codecs its
/// synthetic browser offers).
fn rtc_config() -> RtcConfig {
    RtcConfig::new()
        .set_rtp_mode(true)
        .clear_codecs()
        .enable_opus(true, false)
        .enable_vp8(true)
        .enable_h264(true)
}

pub enum Role {
    Publisher { audio_only: bool },
    Subscriber { feeds: Vec<u64> },
}

/// A joined participant and its running task.
pub struct Joined {
    pub publisher: bool,
    /// The publisher's feed id in the room.
    pub feed: Option<u64>,
    pub opened_at: Instant,
    pub joined_at: Instant,
    pub connected: Arc<AtomicBool>,
    pub first_media: Arc<AtomicU64>,
    pub counters: Arc<ClientCounters>,
    pub task: JoinHandle<()>,
}

/// Joins one participant: signaling up to the applied remote description, then a task that
/// runs until `stop`.
#[allow(clippy::too_many_arguments)]
pub async fn join(
    url: &str,
    room: u64,
    index: usize,
    role: Role,
    metrics: Arc<Metrics>,
    shared: Arc<Tally>,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<Joined> {
    let mut ws = JanusWs::connect(url).await?;
    let opened_at = Instant::now();
    ws.open_handle(STEP_TIMEOUT).await?;
    let std_socket =
        std::net::UdpSocket::bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0))?;
    std_socket.set_nonblocking(true)?;
    kernel_receive::enable(&std_socket);
    let local = std_socket.local_addr()?;
    let socket = UdpSocket::from_std(std_socket)?;
    let now = Instant::now();
    let mut rtc = rtc_config().build(now);
    rtc.add_local_candidate(Candidate::host(local, "udp").map_err(|e| anyhow!("{e}"))?);
    let publisher = matches!(role, Role::Publisher { .. });
    let (feed, joined_at, media) = match role {
        Role::Publisher { audio_only } => {
            let joined = ws
                .message(
                    json!({"request": "join", "ptype": "publisher", "room": room,
                           "display": format!("bench-pub-{index}")}),
                    None,
                    STEP_TIMEOUT,
                )
                .await
                .context("publisher join")?;
            let joined_at = Instant::now();
            let feed = plugin_data(&joined)
                .and_then(|d| d.get("id"))
                .and_then(Value::as_u64)
                .ok_or_else(|| anyhow!("no publisher id in {joined}"))?;
            let mut changes = rtc.sdp_api();
            let stream = format!("bench-pub-{index}");
            let audio_mid = changes.add_media(
                MediaKind::Audio,
                Direction::SendOnly,
                Some(stream.clone()),
                Some(format!("{stream}-audio")),
                None,
            );
            let video = (!audio_only).then(|| {
                let spec = camera_spec();
                let mut simulcast = Simulcast::new();
                for layer in &spec.layers {
                    if let Some(rid) = &layer.rid {
                        simulcast.add_send_layer(SimulcastLayer::new(rid));
                    }
                }
                let mid = changes.add_media(
                    MediaKind::Video,
                    Direction::SendOnly,
                    Some(stream.clone()),
                    Some(format!("{stream}-video")),
                    Some(simulcast),
                );
                (mid, spec)
            });
            let (offer, pending) = changes
                .apply()
                .ok_or_else(|| anyhow!("the publisher offer had no changes"))?;
            let reply = ws
                .message(
                    json!({"request": "publish", "display": format!("bench-pub-{index}")}),
                    Some(json!({"type": "offer", "sdp": offer.to_sdp_string(),
                                "trickle": false, "rid_order": "lmh"})),
                    STEP_TIMEOUT,
                )
                .await
                .context("publish")?;
            let Some(("answer", sdp)) = jsep_sdp(&reply) else {
                return Err(anyhow!("no JSEP answer to publish: {reply}"));
            };
            let answer = SdpAnswer::from_sdp_string(sdp).context("Janus's answer")?;
            rtc.sdp_api()
                .accept_answer(pending, answer)
                .context("Janus's answer refused")?;
            (
                Some(feed),
                joined_at,
                Some(MediaSource::new(Some(audio_mid), video)),
            )
        }
        Role::Subscriber { feeds } => {
            let streams: Vec<Value> = feeds.iter().map(|f| json!({"feed": f})).collect();
            let attached = ws
                .message(
                    json!({"request": "join", "ptype": "subscriber", "room": room,
                           "streams": streams}),
                    None,
                    STEP_TIMEOUT,
                )
                .await
                .context("subscriber join")?;
            let joined_at = Instant::now();
            let Some(("offer", sdp)) = jsep_sdp(&attached) else {
                return Err(anyhow!("no JSEP offer for the subscriber: {attached}"));
            };
            let offer = SdpOffer::from_sdp_string(sdp).context("Janus's offer")?;
            let answer = rtc
                .sdp_api()
                .accept_offer(offer)
                .context("Janus's offer refused")?;
            ws.message(
                json!({"request": "start"}),
                Some(json!({"type": "answer", "sdp": answer.to_sdp_string(),
                            "trickle": false})),
                STEP_TIMEOUT,
            )
            .await
            .context("start")?;
            (None, joined_at, None)
        }
    };
    if publisher {
        shared.joined_publishers.fetch_add(1, Ordering::Relaxed);
    } else {
        shared.joined_subscribers.fetch_add(1, Ordering::Relaxed);
    }
    let connected = Arc::new(AtomicBool::new(false));
    let first_media = Arc::new(AtomicU64::new(0));
    let counters = Arc::new(ClientCounters::default());
    let peer = Peer {
        ws,
        ws_open: true,
        socket,
        local,
        rtc,
        timeout: Some(now),
        alive: true,
        media,
        probe: (!publisher).then(|| Probe::new(metrics, Arc::clone(&first_media))),
        streams: HashMap::new(),
        tracks: HashMap::new(),
        counters: Arc::clone(&counters),
        connected: Arc::clone(&connected),
        shared,
        publisher,
        name: if publisher {
            format!("publisher {index}")
        } else {
            format!("subscriber {index}")
        },
        datagram_arrival: None,
    };
    let task = tokio::spawn(peer.run(stop));
    Ok(Joined {
        publisher,
        feed,
        opened_at,
        joined_at,
        connected,
        first_media,
        counters,
        task,
    })
}

/// A received video stream's decoder state.
struct VideoTrack {
    decodable: bool,
    last_pli: Option<Instant>,
}

struct Peer {
    ws: JanusWs,
    ws_open: bool,
    socket: UdpSocket,
    local: SocketAddr,
    rtc: Rtc,
    timeout: Option<Instant>,
    alive: bool,
    media: Option<MediaSource>,
    probe: Option<Probe>,
    /// SSRC to (mid, kind), resolved once per stream.
    streams: HashMap<Ssrc, (Mid, MediaKind)>,
    tracks: HashMap<Mid, VideoTrack>,
    counters: Arc<ClientCounters>,
    connected: Arc<AtomicBool>,
    shared: Arc<Tally>,
    publisher: bool,
    name: String,
    /// The kernel's receive time of the datagram being handled (as `oriel load-test`).
    datagram_arrival: Option<Instant>,
}

impl Peer {
    async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut receiver = BatchReceiver::default();
        let mut keepalive = tokio::time::interval(KEEPALIVE);
        keepalive.tick().await;
        let idle = Duration::from_secs(3600);
        let sleep = tokio::time::sleep(idle);
        tokio::pin!(sleep);
        loop {
            self.drive();
            let wake = [
                self.timeout.filter(|_| self.alive),
                self.media.as_ref().and_then(MediaSource::poll_timeout),
            ]
            .into_iter()
            .flatten()
            .min()
            .map_or_else(|| tokio::time::Instant::now() + idle, Into::into);
            sleep.as_mut().reset(wake);
            tokio::select! {
                _ = async { stop.wait_for(|s| *s).await.is_ok() } => break,
                frame = self.ws.next(), if self.ws_open => self.on_frame(frame),
                ready = self.socket.readable() => {
                    if ready.is_ok() {
                        self.read_socket(&mut receiver);
                    }
                }
                () = &mut sleep => self.on_timeout(Instant::now()),
                _ = keepalive.tick(), if self.ws_open => {
                    if self.ws.keepalive().await.is_err() {
                        self.ws_open = false;
                    }
                }
            }
        }
        self.set_connected(false);
        self.rtc.disconnect();
        self.ws.close(CLOSE_TIMEOUT).await;
    }

    fn set_connected(&self, up: bool) {
        if self.connected.swap(up, Ordering::Relaxed) != up {
            let counter = if self.publisher {
                &self.shared.connected_publishers
            } else {
                &self.shared.connected_subscribers
            };
            if up {
                counter.fetch_add(1, Ordering::Relaxed);
            } else {
                counter.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    fn on_frame(&mut self, frame: Frame) {
        match frame {
            Frame::Closed => {
                self.ws_open = false;
                self.shared
                    .error(format!("{}: Janus closed the WebSocket", self.name));
            }
            Frame::Message(message) => match message.get("janus").and_then(Value::as_str) {
                Some("hangup") => {
                    self.set_connected(false);
                    self.shared.error(format!(
                        "{}: Janus hung up: {}",
                        self.name,
                        message.get("reason").unwrap_or(&Value::Null)
                    ));
                }
                Some("timeout") => {
                    self.shared
                        .error(format!("{}: Janus session timed out", self.name));
                }
                Some("error") => {
                    self.shared
                        .error(format!("{}: Janus error {}", self.name, message["error"]));
                }
                _ => {}
            },
        }
    }

    fn read_socket(&mut self, receiver: &mut BatchReceiver) {
        let mut read = 0;
        while read < RECV_BATCH {
            let more = receiver.try_recv(&self.socket);
            let now = Instant::now();
            for (datagram, contents) in receiver.datagrams() {
                read += 1;
                self.counters.add(&self.counters.datagrams_received, 1);
                if !self.alive {
                    continue;
                }
                let Ok(receive) =
                    Receive::new(Protocol::Udp, datagram.source, self.local, contents)
                else {
                    continue;
                };
                let _ = self.rtc.handle_input(Input::Receive(now, receive));
                self.datagram_arrival = datagram.kernel_time.map(|at| at.min(now));
                self.drive();
                self.datagram_arrival = None;
            }
            if !matches!(more, Ok(true)) {
                break;
            }
        }
    }

    fn on_timeout(&mut self, now: Instant) {
        if !self.alive {
            return;
        }
        if self.timeout.is_some_and(|t| t <= now) {
            let _ = self.rtc.handle_input(Input::Timeout(now));
        }
        if let Some(media) = &mut self.media {
            media.handle_timeout(now, &mut self.rtc, &self.counters);
        }
    }

    /// Drains str0m until it waits.
    fn drive(&mut self) {
        while self.alive {
            match self.rtc.poll_output() {
                Ok(Output::Transmit(t)) => {
                    match self.socket.try_send_to(&t.contents, t.destination) {
                        Ok(_) => self.counters.add(&self.counters.datagrams_sent, 1),
                        Err(_) => self.counters.add(&self.counters.send_errors, 1),
                    }
                }
                Ok(Output::Timeout(at)) => {
                    self.timeout = Some(at);
                    return;
                }
                Ok(Output::Event(event)) => self.on_event(event),
                Err(error) => {
                    self.alive = false;
                    self.timeout = None;
                    self.set_connected(false);
                    self.shared
                        .error(format!("{}: peer connection failed: {error}", self.name));
                }
            }
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Connected => {
                self.set_connected(true);
                if let Some(media) = &mut self.media {
                    media.start(Instant::now(), &self.rtc);
                }
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                self.set_connected(false)
            }
            Event::KeyframeRequest(request) => {
                self.counters
                    .add(&self.counters.keyframe_requests_received, 1);
                if let Some(media) = &mut self.media {
                    media.request_keyframe(request.mid, request.rid);
                }
            }
            Event::RtpPacket(packet) => {
                let ssrc = packet.header.ssrc;
                let (mid, kind) = match self.streams.get(&ssrc) {
                    Some(known) => *known,
                    None => {
                        let Some(mid) = self.rtc.direct_api().stream_rx(&ssrc).map(|s| s.mid())
                        else {
                            return;
                        };
                        let Some(kind) = self.rtc.media(mid).map(|m| m.kind()) else {
                            return;
                        };
                        self.streams.insert(ssrc, (mid, kind));
                        (mid, kind)
                    }
                };
                self.counters.add(&self.counters.rtp_received, 1);
                let now = packet.timestamp;
                if kind == MediaKind::Video {
                    let track = self.tracks.entry(mid).or_insert(VideoTrack {
                        decodable: false,
                        last_pli: None,
                    });
                    if !track.decodable {
                        match stamp::vp8_frame_start(&packet.payload) {
                            Some(true) => track.decodable = true,
                            Some(false)
                                if track.last_pli.is_none_or(|at| now - at >= PLI_RETRY) =>
                            {
                                track.last_pli = Some(now);
                                if let Some(stream) = self.rtc.direct_api().stream_rx(&ssrc) {
                                    stream.request_keyframe(KeyframeRequestKind::Pli);
                                    self.counters.add(&self.counters.plis_sent, 1);
                                }
                            }
                            _ => {}
                        }
                    }
                }
                if let Some(probe) = &mut self.probe {
                    probe.record(&Received {
                        kind,
                        ssrc: *ssrc,
                        seq: *packet.seq_no,
                        payload_len: packet.payload.len(),
                        arrival: self.datagram_arrival.unwrap_or(packet.timestamp),
                        sent_at: stamp::read(kind, &packet.payload),
                    });
                }
            }
            _ => {}
        }
    }
}
