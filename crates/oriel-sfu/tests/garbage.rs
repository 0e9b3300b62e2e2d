//! Scenario 5: garbage on the media socket and malformed signaling must not disturb anyone
//! else's media. A space is shared by strangers; one broken (or hostile) client, or a port
//! scanner, must cost the others nothing.

mod sim;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use oriel_proto::{
    Candidate, CandidateTarget, ClientMessage, PendingTrack, ServerMessage, SignalError,
    SubscriptionRequest, TrackKind, TrackSource,
};
use oriel_sfu::ConnectionKey;
use sim::{ClientConfig, Rng, Sim};
use str0m::media::MediaKind;

const ALICE: usize = 0;
const BOB: usize = 1;
const MALLORY: usize = 2;

/// The longest silence in a track's arrivals within `[from, to)`.
fn longest_gap(sim: &Sim, kind: MediaKind, from: Instant, to: Instant) -> Duration {
    let track = sim.client(BOB).tracks_from(ALICE, kind)[0];
    let mut last = from;
    let mut gap = Duration::ZERO;
    for packet in track.packets.iter().filter(|p| p.at >= from && p.at < to) {
        gap = gap.max(packet.at - last);
        last = packet.at;
    }
    gap.max(to - last)
}

/// A `pending_track` as the SDK sends it before an offer.
fn pending(tid: &str, kind: TrackKind, mid: &str) -> ClientMessage {
    let source = match kind {
        TrackKind::Audio => TrackSource::Microphone,
        TrackKind::Video => TrackSource::Camera,
    };
    ClientMessage::PendingTrack(PendingTrack {
        tid: tid.into(),
        kind,
        name: String::new(),
        muted: false,
        source,
        width: 0,
        height: 0,
        mid: mid.into(),
    })
}

/// Random datagrams of every kind the SFU socket demultiplexes on (STUN, DTLS, RTP/RTCP),
/// plus pure noise, empty and oversized ones.
fn garbage(rng: &mut Rng) -> Vec<u8> {
    let len = match rng.below(10) {
        0 => 0,
        1 => 65_000,
        _ => rng.below(1_500) as usize,
    };
    let mut bytes = vec![0; len];
    rng.fill(&mut bytes);
    if let Some(first) = bytes.first_mut() {
        *first = match rng.below(4) {
            // STUN binding request (type 0x0001), then a random header and attributes.
            0 => 0x00,
            // A DTLS record (handshake content type).
            1 => 0x16,
            // RTP/RTCP version 2.
            2 => 0x80 | (*first & 0x3f),
            _ => *first,
        };
    }
    if bytes.len() > 8 && bytes[0] == 0x00 {
        bytes[1] = 0x01;
        // The STUN magic cookie, so it gets as far as the integrity check.
        bytes[4..8].copy_from_slice(&[0x21, 0x12, 0xA4, 0x42]);
    }
    bytes
}

#[test]
fn garbage_datagrams_and_malformed_messages_do_not_disturb_others() {
    garbage_datagrams_and_malformed_messages_do_not_disturb_others_on(1);
}

/// The same with the space spread over two workers.
#[test]
fn garbage_datagrams_and_malformed_messages_do_not_disturb_others_over_two_workers() {
    garbage_datagrams_and_malformed_messages_do_not_disturb_others_on(2);
}

fn garbage_datagrams_and_malformed_messages_do_not_disturb_others_on(shards: usize) {
    let mut sim = Sim::with_shards(5, shards);
    assert_eq!(sim.join(ClientConfig::publisher("alice")), ALICE);
    assert_eq!(sim.join(ClientConfig::subscriber("bob")), BOB);
    assert_eq!(sim.join(ClientConfig::publisher("mallory")), MALLORY);
    sim.run_for(Duration::from_secs(5));
    let attack_start = sim.now;

    // Signaling: everything Mallory's broken SDK can say, once the space knows her.
    let mallory_key = sim.client(MALLORY).key;
    let alice_cid = sim.client(ALICE).connection_id.clone();
    let sub_answer = |sdp: &str| ClientMessage::SubAnswer {
        sfu_id: "nope".into(),
        sdp: sdp.into(),
    };
    let nasty = vec![
        ClientMessage::Offer(String::new()),
        ClientMessage::Offer("v=0\r\nthis is not sdp".into()),
        ClientMessage::Offer(
            "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
                .into(),
        ),
        sub_answer(""),
        sub_answer("v=0\r\nm=audio"),
        ClientMessage::Candidate {
            candidate: Candidate {
                candidate: "candidate:garbage".into(),
                sdp_mline_index: None,
                sdp_mid: None,
                username_fragment: None,
            },
            target: CandidateTarget::Publisher,
            sfu_id: String::new(),
        },
        // Someone else's track id, a huge one, a bogus mid, a kind that will not match.
        pending("alice-cam", TrackKind::Video, "7"),
        pending(&"x".repeat(10_000), TrackKind::Video, "8"),
        pending("m-1", TrackKind::Audio, &"9".repeat(100)),
        pending("m-2", TrackKind::Audio, "0"),
        ClientMessage::MuteTrack("alice-cam".into()),
        ClientMessage::UnmuteTrack("alice-mic".into()),
        ClientMessage::SubscribeTracks(vec![SubscriptionRequest {
            connection_id: alice_cid.clone(),
            track_ids: vec!["nothing".into()],
            max_height: Some(u32::MAX),
        }]),
        ClientMessage::UnsubscribeTracks(vec![SubscriptionRequest {
            connection_id: "nobody".into(),
            track_ids: vec![],
            max_height: Some(0),
        }]),
        ClientMessage::SetDisplayName {
            name: "m".repeat(1_000),
            request_id: Some("r1".into()),
        },
        ClientMessage::CustomEvent {
            id: "e".into(),
            payload: "p".repeat(100_000),
            request_id: None,
        },
    ];
    for message in nasty.iter().cloned() {
        sim.handle_message(mallory_key, message);
    }
    // The same from a connection the space never heard of.
    for message in nasty {
        sim.handle_message(ConnectionKey(9_999), message);
    }
    // A custom-event flood, past the rate limit.
    for i in 0..50 {
        sim.handle_message(
            mallory_key,
            ClientMessage::CustomEvent {
                id: format!("flood-{i}"),
                payload: "x".into(),
                request_id: Some(format!("flood-{i}")),
            },
        );
    }
    // Frames the shell's parser refuses never reach the space.
    for frame in [
        "",
        "null",
        "[]",
        "{}",
        r#"{"offer":5}"#,
        "\u{0}\u{1}",
        r#"{"sub_answer":{}}"#,
    ] {
        sim.send_frame(MALLORY, frame);
    }

    // The media socket: 10 s of garbage every 5 ms, from strangers and spoofed from Alice's
    // and Bob's own addresses (routed straight to their peers, past the ICE check).
    let mut rng = Rng::new(55);
    let victims: Vec<SocketAddr> = vec![
        sim.client(ALICE)
            .publisher
            .as_ref()
            .expect("alice publishes")
            .addr,
        sim.client(BOB).sub.addr,
    ];
    while sim.now - attack_start < Duration::from_secs(10) {
        for _ in 0..3 {
            let source = match rng.below(3) {
                0 => {
                    SocketAddr::from(([192, 0, 2, rng.below(255) as u8], rng.below(65_535) as u16))
                }
                n => victims[n as usize - 1],
            };
            let datagram = garbage(&mut rng);
            sim.inject_datagram(source, datagram);
        }
        sim.run_for(Duration::from_millis(5));
    }
    let attack_end = sim.now;
    sim.run_for(Duration::from_secs(3));

    // Mallory was told off, not thrown out, and nobody else heard about her mess.
    let mallory = sim.client(MALLORY);
    let refusals = mallory.signals_matching(|m| matches!(m, ServerMessage::Error(_)));
    assert!(refusals >= 8, "mallory got {refusals} errors");
    let fatal = mallory.signals_matching(|m| {
        matches!(
            m,
            ServerMessage::Error(SignalError::Connection { fatal: true, .. })
        )
    });
    eprintln!(
        "mallory: {refusals} errors ({fatal} fatal); {:?}",
        sim.stats
    );
    for client in [ALICE, BOB] {
        let c = sim.client(client);
        assert_eq!(
            c.signals_matching(|m| matches!(m, ServerMessage::Error(_))),
            0
        );
        assert_eq!(
            c.signals_matching(|m| matches!(m, ServerMessage::TrackMuted { .. })),
            0,
            "mallory cannot mute alice"
        );
    }

    // Bob's media from Alice never paused and lost nothing.
    let bob = sim.client(BOB);
    assert!(bob.errors.is_empty(), "{:?}", bob.errors);
    for (kind, allowed) in [
        (MediaKind::Audio, Duration::from_millis(100)),
        (MediaKind::Video, Duration::from_millis(150)),
    ] {
        let gap = longest_gap(&sim, kind, attack_start, attack_end);
        assert!(
            gap <= allowed,
            "bob's {kind:?} from alice stalled for {gap:?}"
        );
        let track = bob.tracks_from(ALICE, kind)[0];
        let (received, expected) = track.completeness(sim.now - Duration::from_secs(1));
        assert_eq!(received, expected, "bob's {kind:?} from alice lost packets");
        assert!(track.continuity_violations().is_empty());
    }
    assert!(
        sim.stats.unaccepted > 1_000,
        "garbage was refused at the door"
    );
}

/// Lines a broken or hostile SDK might put in an offer: contradictory simulcast, absurd ids,
/// codecs without clock rates, RTX pointing at itself, duplicate mids.
const TRICKY_LINES: [&str; 16] = [
    "a=simulcast:send q;h;f;x;y;z",
    "a=simulcast:recv q;h;f",
    "a=rid:zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz send",
    "a=rid:q recv",
    "a=ssrc:4294967295 cname:x",
    "a=ssrc-group:FID 1 1",
    "a=extmap:15 urn:ietf:params:rtp-hdrext:sdes:mid",
    "a=extmap:0 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
    "a=rtpmap:96 VP8/0",
    "a=fmtp:97 apt=97",
    "a=mid:0",
    "a=mid:",
    "m=video 0 UDP/TLS/RTP/SAVPF 96",
    "a=msid:- -",
    "a=setup:active",
    "a=fingerprint:sha-256 00",
];

/// A seeded mutation of `sdp`: lines dropped, duplicated, swapped, replaced by tricky ones,
/// or the whole text cut short.
fn mutate(sdp: &str, rng: &mut Rng) -> String {
    let mut lines: Vec<String> = sdp.split("\r\n").map(str::to_owned).collect();
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(lines.len() as u64) as usize;
        match rng.below(5) {
            0 => {
                lines.remove(at);
            }
            1 => {
                let line = lines[at].clone();
                lines.insert(at, line);
            }
            2 => {
                let other = rng.below(lines.len() as u64) as usize;
                lines.swap(at, other);
            }
            3 => {
                let tricky = TRICKY_LINES[rng.below(TRICKY_LINES.len() as u64) as usize];
                lines.insert(at, tricky.to_owned());
            }
            _ => lines.truncate(at.max(1)),
        }
        if lines.is_empty() {
            break;
        }
    }
    lines.join("\r\n")
}

/// str0m's rule is that user input never panics; a panic in `accept_offer` would take the
/// whole space down. Each mutated offer comes from a fresh connection so that every one is
/// parsed and applied from scratch.
#[test]
fn mutated_publisher_offers_are_refused_without_panic() {
    mutated_publisher_offers_are_refused_without_panic_on(1);
}

/// The same with the space spread over two workers.
#[test]
fn mutated_publisher_offers_are_refused_without_panic_over_two_workers() {
    mutated_publisher_offers_are_refused_without_panic_on(2);
}

fn mutated_publisher_offers_are_refused_without_panic_on(shards: usize) {
    let mut sim = Sim::with_shards(6, shards);
    assert_eq!(sim.join(ClientConfig::publisher("alice")), ALICE);
    assert_eq!(sim.join(ClientConfig::subscriber("bob")), BOB);
    sim.run_for(Duration::from_secs(3));
    let base = sim.client(ALICE).sent_offers[0].clone();
    // Alice's transceivers: the microphone's m-line comes first, then the camera's.
    let mids: Vec<String> = base
        .lines()
        .filter_map(|l| l.strip_prefix("a=mid:"))
        .map(str::to_owned)
        .collect();
    assert_eq!(mids.len(), 2, "{base}");

    let mut rng = Rng::new(66);
    let fuzz_start = sim.now;
    let mut accepted = 0;
    for round in 0..200 {
        let sdp = mutate(&base, &mut rng);
        let fuzzer = sim.join(ClientConfig::publisher(&format!("fuzz{round}")).no_media());
        let key = sim.client(fuzzer).key;
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // Announce the transceivers as the SDK would. (Producers only appear once a PC
            // connects, which these never do: this covers parsing and negotiation.)
            for (mid, kind) in mids.iter().zip([TrackKind::Audio, TrackKind::Video]) {
                let tid = format!("fuzz{round}-{mid}");
                sim.handle_message(key, pending(&tid, kind, mid));
            }
            sim.handle_message(key, ClientMessage::Offer(sdp.clone()));
            sim.run_for(Duration::from_millis(20));
        }));
        assert!(outcome.is_ok(), "the space panicked on this offer:\n{sdp}");
        let answered = sim
            .client(fuzzer)
            .signals_matching(|m| matches!(m, ServerMessage::Answer(_)));
        accepted += answered;
        sim.leave(fuzzer);
    }
    sim.run_for(Duration::from_secs(2));
    eprintln!("{accepted} of 200 mutated offers were answered");

    let bob = sim.client(BOB);
    for kind in [MediaKind::Audio, MediaKind::Video] {
        let gap = longest_gap(&sim, kind, fuzz_start, sim.now);
        assert!(
            gap <= Duration::from_millis(200),
            "bob's {kind:?} stalled for {gap:?}"
        );
        assert!(bob.tracks_from(ALICE, kind)[0]
            .continuity_violations()
            .is_empty());
    }
}
