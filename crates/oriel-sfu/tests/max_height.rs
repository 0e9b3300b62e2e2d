//! Oriel's `max_height` on `subscribe_tracks`: a subscriber that draws a video small (the
//! compositor's tiles) gets the smallest simulcast layer that fills it, however wide its link,
//! and asking again with another height moves the layer, seamlessly for the decoder.

mod sim;

use std::time::{Duration, Instant};

use sim::{ClientConfig, Sim};
use str0m::media::MediaKind;

const ALICE: usize = 0;
const BOB: usize = 1;
const SETTLED: Duration = Duration::from_secs(4);

fn subscribe(sim: &mut Sim, max_height: Option<u32>) {
    let alice = sim.client(ALICE).connection_id.clone();
    let height = max_height.map_or(String::new(), |h| format!(r#","max_height":{h}"#));
    sim.send_frame(
        BOB,
        format!(
            r#"{{"subscribe_tracks":{{"connections":[{{"connection_id":"{alice}"{height}}}]}}}}"#
        ),
    );
}

/// The layer Bob got most in the `SETTLED` seconds before `to`.
fn dominant_layer(sim: &Sim, to: Instant) -> u8 {
    let track = sim.client(BOB).tracks_from(ALICE, MediaKind::Video)[0];
    let mut counts = [0usize; 3];
    for packet in &track.packets {
        if let (true, Some(probe)) = (packet.at >= to - SETTLED && packet.at < to, packet.probe) {
            counts[usize::from(probe.layer.min(2))] += 1;
        }
    }
    (0..3u8)
        .max_by_key(|&l| counts[usize::from(l)])
        .filter(|&l| counts[usize::from(l)] > 0)
        .expect("video for bob")
}

#[test]
fn max_height_picks_the_smallest_layer_that_fills_it() {
    max_height_picks_the_smallest_layer_that_fills_it_on(1);
}

/// The same with the space spread over two workers.
#[test]
fn max_height_picks_the_smallest_layer_that_fills_it_over_two_workers() {
    max_height_picks_the_smallest_layer_that_fills_it_on(2);
}

fn max_height_picks_the_smallest_layer_that_fills_it_on(shards: usize) {
    let mut sim = Sim::with_shards(11, shards);
    assert_eq!(sim.join(ClientConfig::publisher("alice")), ALICE);
    let manual = ClientConfig {
        managed_subscriptions: 0,
        ..ClientConfig::subscriber("bob")
    };
    assert_eq!(sim.join(manual), BOB);
    // Alice's tracks are announced before Bob names them.
    sim.run_for(Duration::from_secs(2));
    // Tiles of 347 px: the 360p layer, on a link that carries the 720p one.
    subscribe(&mut sim, Some(347));
    sim.run_for(Duration::from_secs(12));
    let small = sim.now;
    // The tile grows to full frame: 720p.
    subscribe(&mut sim, Some(720));
    sim.run_for(Duration::from_secs(12));
    let large = sim.now;
    // Not shown at all (another speaker holds the frame): the lowest layer.
    subscribe(&mut sim, Some(1));
    sim.run_for(Duration::from_secs(8));
    let hidden = sim.now;
    // A plain subscription (what the Mux SDK sends) lifts the limit.
    subscribe(&mut sim, None);
    sim.run_for(Duration::from_secs(12));
    let plain = sim.now;

    let layers = [small, large, hidden, plain].map(|at| dominant_layer(&sim, at));
    assert_eq!(
        layers,
        [1, 2, 0, 2],
        "layers at 347 px, 720 px, 1 px, no limit"
    );
    let track = sim.client(BOB).tracks_from(ALICE, MediaKind::Video)[0];
    // A tile that grows gets its layer at the next keyframe, not after the 2 s hold of
    // bandwidth-driven up-switches: the compositor's new active speaker is sharp at once.
    let to_720 = track
        .layer_changes()
        .iter()
        .find(|(at, layer)| *at > small && *layer == 2)
        .map(|(at, _)| *at - small)
        .expect("up to 720p");
    assert!(
        to_720 < Duration::from_millis(1000),
        "720p {to_720:?} after the larger max_height"
    );
    let violations = track.continuity_violations();
    assert!(violations.is_empty(), "{violations:?}");
    assert!(
        sim.client(BOB).errors.is_empty(),
        "{:?}",
        sim.client(BOB).errors
    );
}
