use super::*;
use str0m::format::{Codec, CodecSpec, FormatParams};
use str0m::media::Frequency;

fn vp8(pt: u8) -> PayloadParams {
    PayloadParams::new(
        Pt::new_with_value(pt),
        Some(Pt::new_with_value(pt + 1)),
        CodecSpec {
            codec: Codec::Vp8,
            clock_rate: Frequency::NINETY_KHZ,
            channels: None,
            format: FormatParams::default(),
        },
    )
}

fn packet(producer: u64, pt: u8, seq_no: u64) -> ShardEvent {
    ShardEvent::Media(Arc::new(RelayedPacket {
        producer: ProducerId(producer),
        layer: 2,
        params: vp8(pt),
        keyframe: seq_no.is_multiple_of(2),
        packet: ForwardedPacket {
            seq_no,
            rtp_timestamp: 0xdead_beef,
            payload_type: Pt::new_with_value(pt),
            marker: seq_no.is_multiple_of(3),
            audio_level: seq_no.is_multiple_of(4).then_some(-42),
            voice_activity: [None, Some(true), Some(false)][(seq_no % 3) as usize],
            video_orientation: seq_no.is_multiple_of(5).then_some(VideoOrientation::Deg90),
            payload: Arc::from(vec![seq_no as u8; 900]),
        },
    }))
}

/// One of every change the shards tell each other.
fn changes(now: Instant) -> Vec<ShardEvent> {
    let track = Track {
        tid: "t1".into(),
        kind: TrackKind::Video,
        name: "camera".into(),
        muted: false,
        source: TrackSource::Camera,
        width: 1280,
        height: 720,
        metadata: serde_json::Map::new(),
    };
    vec![
        ShardEvent::Joined(Box::new(RemoteConnection {
            key: ConnectionKey(7 << 48 | 3),
            connection_id: "c-1".into(),
            participant_id: "alice ✓".into(),
            role: ParticipantRole::Subscriber,
            display_name: "Alice \"A\"".into(),
            hidden: true,
            joined_at: now - Duration::from_millis(1500),
        })),
        ShardEvent::TrackAdded(Box::new(RemoteTrack {
            producer: ProducerId(9),
            connection: ConnectionKey(3),
            track,
            simulcast: true,
            announce_mute: true,
        })),
        ShardEvent::TrackMuted {
            producer: ProducerId(9),
            muted: true,
        },
        ShardEvent::DisplayNameChanged {
            connection: ConnectionKey(3),
            name: "Bob".into(),
        },
        ShardEvent::CustomEvent {
            connection: ConnectionKey(3),
            id: "e-1".into(),
            payload: "{\"x\":1}".into(),
            sequence_num: 41,
        },
        ShardEvent::CustomEventsSeen { sequence_num: 42 },
        ShardEvent::KeyframeRequest {
            producer: ProducerId(9),
            layer: 1,
        },
        ShardEvent::TrackRemoved {
            producer: ProducerId(9),
            announce: false,
        },
        ShardEvent::Left {
            connection: ConnectionKey(3),
        },
    ]
}

fn decode_all(decoder: &mut ShardWireDecoder, now: Instant) -> Vec<ShardEvent> {
    let mut events = Vec::new();
    while let Some(event) = decoder.next_event(now).expect("well formed") {
        events.push(event);
    }
    events
}

#[test]
fn every_event_crosses_unchanged() {
    let now = Instant::now() + Duration::from_secs(10);
    let mut events = changes(now);
    events.insert(2, packet(9, 96, 0));
    events.insert(3, packet(9, 96, 1));
    let mut encoder = ShardWireEncoder::default();
    let mut bytes = Vec::new();
    for event in &events {
        encoder.encode(now, event, &mut bytes);
    }
    let mut decoder = ShardWireDecoder::default();
    decoder.feed(&bytes);
    let decoded = decode_all(&mut decoder, now);
    assert_eq!(decoded.len(), events.len());
    for (sent, got) in events.iter().zip(&decoded) {
        // Debug shows every field (the instant included): they must read the same.
        assert_eq!(format!("{sent:?}"), format!("{got:?}"));
    }
    match &decoded[2] {
        ShardEvent::Media(relayed) => assert_eq!(relayed.params, vp8(96)),
        other => panic!("a packet, not {other:?}"),
    }
}

#[test]
fn parameters_cross_once_per_payload_type_and_again_after_the_track_went() {
    let now = Instant::now();
    let mut encoder = ShardWireEncoder::default();
    let mut sizes = Vec::new();
    for event in [packet(9, 96, 1), packet(9, 96, 2), packet(9, 98, 3)] {
        let mut bytes = Vec::new();
        encoder.encode(now, &event, &mut bytes);
        sizes.push(bytes.len());
    }
    let bare = 4 + 1 + MEDIA_HEADER + 900;
    assert_eq!(sizes[1], bare, "the second packet carries no parameters");
    assert!(
        sizes[0] > bare && sizes[2] > bare,
        "a new payload type brings its own"
    );
    let removed = ShardEvent::TrackRemoved {
        producer: ProducerId(9),
        announce: true,
    };
    encoder.encode(now, &removed, &mut Vec::new());
    let mut bytes = Vec::new();
    encoder.encode(now, &packet(9, 96, 4), &mut bytes);
    assert!(bytes.len() > bare, "a producer id used again starts afresh");
}

#[test]
fn records_split_anywhere_decode_whole() {
    let now = Instant::now();
    let mut encoder = ShardWireEncoder::default();
    let mut bytes = Vec::new();
    for seq in 0..20 {
        encoder.encode(now, &packet(1, 96, seq), &mut bytes);
    }
    for event in changes(now) {
        encoder.encode(now, &event, &mut bytes);
    }
    let mut decoder = ShardWireDecoder::default();
    let mut decoded = Vec::new();
    // Odd chunk sizes put record boundaries everywhere.
    for chunk in bytes.chunks(7) {
        decoder.feed(chunk);
        decoded.extend(decode_all(&mut decoder, now));
    }
    assert_eq!(decoded.len(), 20 + changes(now).len());
    let seqs: Vec<u64> = decoded
        .iter()
        .filter_map(|e| match e {
            ShardEvent::Media(r) => Some(r.packet.seq_no),
            _ => None,
        })
        .collect();
    assert_eq!(seqs, (0..20).collect::<Vec<_>>());
}

#[test]
fn bad_bytes_are_errors_not_panics() {
    let now = Instant::now();
    let mut decoder = ShardWireDecoder::default();
    decoder.feed(&u32::MAX.to_be_bytes());
    assert_eq!(
        decoder.next_event(now).unwrap_err(),
        WireError::RecordTooLarge(u32::MAX as usize)
    );

    // A packet whose parameters never came.
    let mut bytes = Vec::new();
    ShardWireEncoder::default().encode(now, &packet(5, 96, 1), &mut bytes);
    let params_record = 4 + u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
    let mut decoder = ShardWireDecoder::default();
    decoder.feed(&bytes[params_record..]);
    assert_eq!(
        decoder.next_event(now).unwrap_err(),
        WireError::UnknownParams {
            producer: 5,
            payload_type: 96
        }
    );

    for record in [
        &[0, 0, 0, 0][..],
        &[0, 0, 0, 1, 9],
        &[0, 0, 0, 3, TAG_MEDIA, 0, 0],
        &[0, 0, 0, 3, TAG_CHANGE, b'{', b'}'],
        &[0, 0, 0, 2, TAG_PARAMS, 1],
    ] {
        let mut decoder = ShardWireDecoder::default();
        decoder.feed(record);
        assert!(decoder.next_event(now).is_err(), "{record:?} is refused");
    }

    // Noise: whatever it decodes to, nothing panics.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..2000 {
        let mut noise = Vec::new();
        for _ in 0..64 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            noise.push(state as u8);
        }
        noise[..4].copy_from_slice(&60u32.to_be_bytes());
        let mut decoder = ShardWireDecoder::default();
        decoder.feed(&noise);
        let _ = decoder.next_event(now);
    }
}
