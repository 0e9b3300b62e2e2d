//! The client's sans-IO [`Session`] against Oriel's sans-IO SFU core (`oriel_sfu::Space`), wired
//! together in memory on virtual time: real SDP, ICE, DTLS, SRTP and RTP, no sockets.
//!
//! One publisher (audio + VP8 simulcast) and two subscribers join; the test checks the join,
//! the subscriptions, media with send stamps on both delivery paths (events and a sink), custom
//! events, display names, active speakers, and leaving.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use oriel_client::str0m::media::MediaKind;
use oriel_client::{
    ClientCounters, ClientEvent, MediaDelivery, Output, PublishOptions, ReceivedPacket, RequestOk,
    Session, SessionOptions, SessionState, SocketFactory,
};
use oriel_proto::{ClientMessage, ParticipantRole};
use oriel_sfu::{ConnectionKey, JoinRequest, Output as SfuOutput, Protocol, Space, SpaceConfig};

const SFU_ADDR: ([u8; 4], u16) = ([10, 0, 0, 1], 5000);

/// Hands out addresses of an imaginary host.
struct FakeSockets {
    ip: [u8; 4],
    next_port: u16,
}

impl SocketFactory for FakeSockets {
    fn bind(&mut self) -> std::io::Result<SocketAddr> {
        self.next_port += 1;
        Ok(SocketAddr::from((self.ip, self.next_port)))
    }
}

struct Peer {
    key: ConnectionKey,
    session: Session,
    sockets: FakeSockets,
    events: Vec<ClientEvent>,
    left: bool,
}

fn token(role: &str) -> String {
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    format!(
        "{}.{}.c2ln",
        b64(r#"{"alg":"RS256","typ":"JWT"}"#),
        b64(&format!(r#"{{"sub":"space","aud":"rt","role":"{role}"}}"#))
    )
}

/// Counts what a sink sees.
#[derive(Default)]
struct SinkStats {
    audio: AtomicU64,
    video: AtomicU64,
    stamped: AtomicU64,
}

struct World {
    /// Times the clock had to be nudged because a component kept asking for a past instant.
    stalls: u64,
    now: Instant,
    space: Space,
    peers: Vec<Peer>,
}

impl World {
    fn new(now: Instant) -> Self {
        Self {
            stalls: 0,
            now,
            space: Space::new(SpaceConfig::new(SocketAddr::from(SFU_ADDR))),
            peers: Vec::new(),
        }
    }

    fn join(&mut self, name: &str, role: ParticipantRole, delivery: MediaDelivery) -> usize {
        let index = self.peers.len();
        let key = ConnectionKey(index as u64 + 1);
        let role_name = match role {
            ParticipantRole::Publisher => "publisher",
            ParticipantRole::Subscriber => "subscriber",
        };
        let session = Session::new(
            self.now,
            SessionOptions {
                token: token(role_name),
                display_name: Some(name.to_owned()),
                managed_subscriptions: 16,
            },
            delivery,
            Arc::new(ClientCounters::default()),
        );
        assert_eq!(session.role(), role);
        self.peers.push(Peer {
            key,
            session,
            sockets: FakeSockets {
                ip: [10, 0, 1, index as u8 + 2],
                next_port: 6000,
            },
            events: Vec::new(),
            left: false,
        });
        self.space.join(
            self.now,
            JoinRequest {
                connection: key,
                connection_id: format!("conn-{name}"),
                participant_id: name.to_owned(),
                session_id: "session".into(),
                role,
                display_name: name.to_owned(),
                managed_subscriptions: 16,
                hidden: false,
                ice_servers: Vec::new(),
            },
        );
        self.pump();
        index
    }

    /// Delivers everything both sides produced at `now`, until nothing moves.
    fn pump(&mut self) {
        let now = self.now;
        for _ in 0..100_000 {
            let mut progress = false;
            for peer in &mut self.peers {
                while let Some(output) = peer.session.poll_output() {
                    progress = true;
                    match output {
                        Output::Signal(text) => {
                            let message = ClientMessage::parse(&text)
                                .unwrap_or_else(|e| panic!("server refuses {text}: {e}"));
                            self.space.handle_message(now, peer.key, message);
                        }
                        Output::Transmit {
                            source,
                            destination,
                            contents,
                        } => self.space.handle_datagram(
                            now,
                            Protocol::Udp,
                            source,
                            destination,
                            &contents,
                        ),
                        Output::Event(event) => peer.events.push(event),
                        Output::Close => {
                            if !peer.left {
                                peer.left = true;
                                self.space.leave(now, peer.key);
                            }
                        }
                    }
                }
            }
            while let Some(output) = self.space.poll_output() {
                progress = true;
                match output {
                    SfuOutput::Transmit {
                        source,
                        destination,
                        contents,
                        ..
                    } => {
                        if let Some(peer) = self
                            .peers
                            .iter_mut()
                            .find(|p| p.session.local_addrs().any(|a| a == destination))
                        {
                            peer.session
                                .handle_datagram(now, source, destination, &contents);
                        }
                    }
                    SfuOutput::Signal {
                        connection,
                        message,
                    } => {
                        let peer = self.peers.iter_mut().find(|p| p.key == connection).unwrap();
                        let Peer {
                            session, sockets, ..
                        } = peer;
                        session.handle_signal(now, &message.to_json(), sockets);
                    }
                    // One space on one worker: nothing to relay to.
                    SfuOutput::Relay(_) => {}
                    SfuOutput::Close {
                        connection,
                        message,
                    } => {
                        let peer = self.peers.iter_mut().find(|p| p.key == connection).unwrap();
                        let Peer {
                            session, sockets, ..
                        } = peer;
                        session.handle_signal(now, &message.to_json(), sockets);
                        session.handle_close(now, Some(4000), "closed by the server".into());
                    }
                }
            }
            if !progress {
                return;
            }
        }
        panic!("no quiescence at one instant");
    }

    /// Runs virtual time forward by `duration`.
    fn run_for(&mut self, duration: Duration) {
        let end = self.now + duration;
        let mut stalled = 0u32;
        loop {
            self.pump();
            let next = self
                .peers
                .iter()
                .filter_map(|p| p.session.poll_timeout())
                .chain(self.space.poll_timeout())
                .min()
                .unwrap_or(end);
            if next > end {
                self.now = end;
                return;
            }
            if next > self.now {
                self.now = next;
                stalled = 0;
            } else {
                // Both sides were served at this instant and still ask for it (str0m's
                // pacer does so when everything happens at one instant); a real clock moves on.
                stalled += 1;
                if stalled > 100 {
                    self.now += Duration::from_micros(100);
                    self.stalls += 1;
                    stalled = 0;
                }
            }
            let now = self.now;
            if self.space.poll_timeout().is_some_and(|t| t <= now) {
                self.space.handle_timeout(now);
            }
            for peer in &mut self.peers {
                if peer.session.poll_timeout().is_some_and(|t| t <= now) {
                    peer.session.handle_timeout(now);
                }
            }
        }
    }

    fn peer(&mut self, index: usize) -> &mut Peer {
        &mut self.peers[index]
    }
}

#[test]
fn a_publisher_and_two_subscribers_through_the_sfu_core() {
    // The media clock's origin must come before the virtual clock's first instant.
    let _ = oriel_client::stamp::epoch();
    let mut world = World::new(Instant::now());

    let alice = world.join("alice", ParticipantRole::Publisher, MediaDelivery::Discard);
    let info = world
        .peer(alice)
        .session
        .info()
        .cloned()
        .expect("alice joined");
    assert_eq!(info.connection_id, "conn-alice");
    assert_eq!(info.simulcast.camera_encodings.len(), 3);
    let now = world.now;
    let published = {
        let Peer {
            session, sockets, ..
        } = world.peer(alice);
        session
            .publish(now, &PublishOptions::default(), sockets)
            .expect("publish")
    };
    assert_eq!(published.len(), 2);
    assert_eq!(published[1].rids, ["q", "h", "f"]);

    let bob = world.join("bob", ParticipantRole::Subscriber, MediaDelivery::Events);
    let sink = Arc::new(SinkStats::default());
    let carol_sink = Arc::clone(&sink);
    let carol = world.join(
        "carol",
        ParticipantRole::Subscriber,
        MediaDelivery::Sink(Box::new(move |p: &ReceivedPacket<'_>| {
            match p.kind {
                MediaKind::Audio => carol_sink.audio.fetch_add(1, Ordering::Relaxed),
                MediaKind::Video => carol_sink.video.fetch_add(1, Ordering::Relaxed),
            };
            if p.sent_at.is_some_and(|at| at <= p.arrival) {
                carol_sink.stamped.fetch_add(1, Ordering::Relaxed);
            }
        })),
    );
    world.run_for(Duration::from_secs(4));
    // The space asks for the current instant again while str0m's pacers probe at start.
    assert!(world.stalls < 4_000, "clock nudged {} times", world.stalls);

    // The publisher connected and sent.
    let alice_events = &world.peers[alice].events;
    assert!(alice_events.iter().any(|e| matches!(
        e,
        ClientEvent::PeerConnected {
            publisher: true,
            ..
        }
    )));
    let sent = ClientCounters::get(&world.peers[alice].session.counters().rtp_sent);
    assert!(sent > 1000, "alice sent only {sent} packets");

    // Bob saw Alice and subscribed to both her tracks, by tid and connection id.
    let bob_events = &world.peers[bob].events;
    assert!(bob_events.iter().any(
        |e| matches!(e, ClientEvent::ParticipantJoined(p) if p.connection_id == "conn-alice")
    ));
    let subscribed: HashMap<String, Option<String>> = bob_events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::TrackSubscribed {
                tid, connection_id, ..
            } => Some((tid.clone(), connection_id.clone())),
            _ => None,
        })
        .collect();
    for track in &published {
        assert_eq!(
            subscribed.get(&track.tid),
            Some(&Some("conn-alice".to_owned())),
            "bob subscribed to {}",
            track.tid
        );
    }
    // Media arrived, stamped, with audio levels on audio.
    let media: Vec<_> = bob_events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Media(p) => Some(p),
            _ => None,
        })
        .collect();
    let audio = media.iter().filter(|p| p.kind == MediaKind::Audio).count();
    let video = media.iter().filter(|p| p.kind == MediaKind::Video).count();
    assert!(audio > 150, "bob got {audio} audio packets");
    assert!(video > 90, "bob got {video} video packets");
    assert!(media
        .iter()
        .all(|p| p.sent_at.is_some_and(|at| at <= p.arrival)));
    assert!(media
        .iter()
        .filter(|p| p.kind == MediaKind::Audio)
        .all(|p| p.audio_level.is_some()));
    // Each consumer is one continuous stream: no gaps on a clean link.
    for kind in [MediaKind::Audio, MediaKind::Video] {
        let seqs: Vec<u64> = media
            .iter()
            .filter(|p| p.kind == kind)
            .map(|p| p.seq)
            .collect();
        let gaps = seqs.windows(2).filter(|w| w[1] != w[0] + 1).count();
        assert_eq!(gaps, 0, "{kind:?} sequence numbers jump");
    }
    assert!(bob_events
        .iter()
        .any(|e| matches!(e, ClientEvent::ActiveSpeakers(s) if s.iter().any(|s| s.connection_id == "conn-alice"))));

    // Carol's sink got the same.
    assert!(sink.audio.load(Ordering::Relaxed) > 150);
    assert!(sink.video.load(Ordering::Relaxed) > 90);
    assert_eq!(
        sink.stamped.load(Ordering::Relaxed),
        sink.audio.load(Ordering::Relaxed) + sink.video.load(Ordering::Relaxed)
    );
    let received = ClientCounters::get(&world.peers[carol].session.counters().rtp_received);
    assert_eq!(
        received,
        sink.audio.load(Ordering::Relaxed) + sink.video.load(Ordering::Relaxed)
    );

    // Custom events: the sender's request resolves with a sequence number, others receive it.
    let now = world.now;
    let request = world
        .peer(alice)
        .session
        .publish_custom_event(now, "hello".into())
        .expect("custom event");
    // A subscriber may not send one (refused locally, as the SDK does).
    assert!(world
        .peer(bob)
        .session
        .publish_custom_event(now, "no".into())
        .is_err());
    let rename = world
        .peer(alice)
        .session
        .set_display_name(now, "Alice A.".into())
        .expect("display name");
    world.run_for(Duration::from_millis(100));
    let done: Vec<_> = world.peers[alice]
        .events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::RequestDone { request_id, result } => Some((request_id, result)),
            _ => None,
        })
        .collect();
    assert!(done.iter().any(|(id, r)| **id == request
        && matches!(r, Ok(RequestOk::CustomEvent { sequence_num }) if *sequence_num >= 1)));
    assert!(done
        .iter()
        .any(|(id, r)| **id == rename && matches!(r, Ok(RequestOk::DisplayName))));
    assert_eq!(
        world.peers[alice].session.info().unwrap().display_name,
        "Alice A."
    );
    for peer in [bob, carol] {
        let events = &world.peers[peer].events;
        assert!(events.iter().any(|e| matches!(e,
            ClientEvent::CustomEvent { connection_id, payload, .. }
                if connection_id == "conn-alice" && payload == "hello")));
        assert!(events.iter().any(|e| matches!(e,
            ClientEvent::DisplayNameChanged { display_name, .. } if display_name == "Alice A.")));
    }

    // Carol leaves: Alice and Bob are told.
    let now = world.now;
    world.peer(carol).session.leave(now);
    world.run_for(Duration::from_millis(100));
    assert_eq!(world.peers[carol].session.state(), SessionState::Ended);
    assert!(world.peers[bob].events.iter().any(
        |e| matches!(e, ClientEvent::ParticipantLeft { connection_id } if connection_id == "conn-carol")
    ));
}

#[test]
fn a_refused_join_is_a_typed_error() {
    let now = Instant::now();
    let mut session = Session::new(
        now,
        SessionOptions {
            token: token("publisher"),
            display_name: None,
            managed_subscriptions: 16,
        },
        MediaDelivery::Discard,
        Arc::new(ClientCounters::default()),
    );
    let mut sockets = FakeSockets {
        ip: [10, 0, 9, 9],
        next_port: 1,
    };
    session.handle_signal(
        now,
        r#"{"error":{"type":6,"message":"join token has expired","visibility":1,"fatal":true}}"#,
        &mut sockets,
    );
    assert_eq!(session.state(), SessionState::Ended);
    let outputs: Vec<Output> = std::iter::from_fn(|| session.poll_output()).collect();
    assert!(matches!(
        &outputs[0],
        Output::Event(ClientEvent::JoinFailed(oriel_client::JoinError::InvalidJwt(m))) if m == "join token has expired"
    ));
    assert!(matches!(outputs[1], Output::Close));
}
