use super::*;

fn roundtrip(frames: &[Frame]) -> Vec<Frame> {
    let now = Instant::now();
    let mut encoder = FrameEncoder::default();
    let mut bytes = Vec::new();
    for frame in frames {
        encoder.encode(now, frame, &mut bytes);
    }
    let mut decoder = FrameDecoder::default();
    let mut out = Vec::new();
    // Fed in odd pieces: records split anywhere.
    for chunk in bytes.chunks(5) {
        decoder.feed(chunk);
        while let Some(frame) = decoder.next_frame(now).expect("well formed") {
            out.push(frame);
        }
    }
    out
}

#[test]
fn every_frame_crosses_unchanged() {
    let space: Arc<str> = Arc::from("space-1");
    let frames = vec![
        Frame::Hello(Hello {
            ordinal: 3,
            secret: "s3cret".into(),
        }),
        Frame::Shard {
            space: space.clone(),
            from: 48,
            targets: Arc::from(vec![16, 17]),
            message: ShardMessage::Relay(ShardEvent::CustomEventsSeen { sequence_num: 9 }),
        },
        Frame::Shard {
            space: space.clone(),
            from: 48,
            targets: Arc::from(vec![16]),
            message: ShardMessage::OpenShard {
                peers: vec![1, 2, 33],
            },
        },
        Frame::Shard {
            space: space.clone(),
            from: 0,
            targets: Arc::from(vec![16]),
            message: ShardMessage::ShardOpened { worker: 49 },
        },
        Frame::Shard {
            space: space.clone(),
            from: 0,
            targets: Arc::from(vec![16]),
            message: ShardMessage::ShardClosed { worker: 49 },
        },
        Frame::Shard {
            space: space.clone(),
            from: 1,
            targets: Arc::from(vec![16]),
            message: ShardMessage::SyncDone,
        },
        Frame::Join {
            space: space.clone(),
            target: 16,
            join: Box::new(RemoteJoin {
                connection: 1 << 48 | 5,
                connection_id: "c".into(),
                participant_id: "p".into(),
                session_id: "s".into(),
                publisher: true,
                display_name: "Ann".into(),
                managed_subscriptions: 20,
                hidden: false,
                ice_servers: vec![],
                broadcasting: true,
            }),
        },
        Frame::Message {
            space: space.clone(),
            target: 16,
            connection: ConnectionKey(5),
            text: "{\"type\":\"ping\"} ✓".into(),
        },
        Frame::Leave {
            space: space.clone(),
            target: 16,
            connection: ConnectionKey(5),
        },
        Frame::SetBroadcasting {
            space,
            target: 16,
            broadcasting: true,
        },
        Frame::Signal {
            connection: ConnectionKey(5),
            close: true,
            json: "{}".into(),
        },
        Frame::Gone {
            connection: ConnectionKey(5),
        },
        Frame::SnapshotRequest {
            id: 7,
            space: Arc::from("space-1"),
            target: 16,
        },
        Frame::Snapshot {
            id: 7,
            snapshot: Box::new(oriel_sfu::SpaceSnapshot {
                participants: vec![oriel_sfu::ParticipantSnapshot {
                    connection_id: "c".into(),
                    participant_id: "p".into(),
                    role: oriel_proto::ParticipantRole::Subscriber,
                    display_name: "D".into(),
                    state: oriel_sfu::ConnectionState::Connected,
                    connected_for: std::time::Duration::from_millis(1234),
                    tracks: vec![],
                }],
                relayed_subscribers: vec![("t".into(), 2)],
            }),
        },
    ];
    let got = roundtrip(&frames);
    assert_eq!(got.len(), frames.len());
    for (sent, got) in frames.iter().zip(&got) {
        assert_eq!(format!("{sent:?}"), format!("{got:?}"));
    }
}

#[test]
fn garbage_ends_the_link_without_a_panic() {
    let now = Instant::now();
    for bytes in [
        &[0xff, 0xff, 0xff, 0xff][..],
        &[0, 0, 0, 1, 99],
        &[0, 0, 0, 2, TAG_SHARD, 0],
        &[0, 0, 0, 3, TAG_MESSAGE, 0, 9],
        &[0, 0, 0, 1, TAG_HELLO],
    ] {
        let mut decoder = FrameDecoder::default();
        decoder.feed(bytes);
        assert!(decoder.next_frame(now).is_err(), "{bytes:?}");
    }
}
