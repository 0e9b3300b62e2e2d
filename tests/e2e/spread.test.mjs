// A space spread over the node's media workers, with the unmodified @mux/spaces-web 1.2.0:
// `--spread-space-after 1` sends every connection after the first to the worker holding the
// fewest of the space's, so three participants of one space land on two worker threads (two
// media ports). Each worker holds a shard of the space and relays its publishers' packets and
// its participants' changes to the other; to the SDK it is one space.

import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { useE2E, eventually } from './lib/fixture.mjs';

const e2e = useE2E({ serverArgs: ['--spread-space-after', '1'] });

/** The node's media ports a participant's connected peer connections use. */
async function mediaPorts(p) {
  const pairs = (await p.selectedPairs()).filter((s) => s.state === 'connected');
  return new Set(pairs.map((pair) => pair.remotePort));
}

const customEventsAt = async (p) =>
  (await p.events()).filter((e) => e.name === 'ParticipantCustomEventPublished').map((e) => e.args[1]);

describe('a space over several media workers', () => {
  e2e.test('participants on different workers decode each other; events, names, mute and leaving cross between them', { timeout: 90_000 }, async () => {
    const space = await e2e.env.createSpace();
    const alice = await e2e.joined('alice', space.id);
    const bob = await e2e.joined('bob', space.id);
    const carol = await e2e.joined('carol', space.id, { role: 'subscriber' });
    const a = await alice.p.publishCameraAndMic();
    assert.equal(a.ok, true, JSON.stringify(a.error));
    const b = await bob.p.publishCamera();
    assert.equal(b.ok, true, JSON.stringify(b.error));

    await alice.p.waitForFrames(bob.id, 10, 20_000);
    await bob.p.waitForFrames(alice.id, 10, 20_000);
    await carol.p.waitForFrames(alice.id, 10, 20_000);
    await carol.p.waitForFrames(bob.id, 10, 20_000);

    // They really are on different workers: the media ports they talk to differ.
    const ports = new Map();
    for (const [name, who] of [['alice', alice], ['bob', bob], ['carol', carol]]) ports.set(name, await mediaPorts(who.p));
    const all = new Set([...ports.values()].flatMap((s) => [...s]));
    assert.ok(all.size >= 2, `the space uses two media workers: ${JSON.stringify([...ports].map(([n, s]) => [n, [...s]]))}`);
    assert.ok(all.size <= 2, 'and only the node\'s two');

    // Custom events from both workers reach everyone, numbers increasing across them.
    const fromBob = await bob.p.customEvent('from bob');
    assert.equal(fromBob.ok, true, JSON.stringify(fromBob.error));
    const fromAlice = await alice.p.customEvent('from alice');
    assert.equal(fromAlice.ok, true, JSON.stringify(fromAlice.error));
    assert.ok(fromAlice.value.sequence_num > fromBob.value.sequence_num, `sequence numbers ${fromBob.value.sequence_num} then ${fromAlice.value.sequence_num}`);
    await eventually(() => customEventsAt(carol.p), (evs) => evs.length >= 2, { timeoutMs: 5000, what: 'both events at carol' });
    assert.deepEqual((await customEventsAt(carol.p)).map((e) => e.payload), ['from bob', 'from alice']);

    // A new name and a mute cross too.
    const renamed = await bob.p.setDisplayName('Robert');
    assert.equal(renamed.ok, true, JSON.stringify(renamed.error));
    await alice.p.waitForEvent('ParticipantDisplayNameChanged', (e) => e.args[0].id === bob.id, 5000);
    const micTid = a.tracks.find((t) => t.kind === 1)?.tid ?? a.tracks[1].tid;
    await alice.p.mute(micTid);
    await bob.p.waitForEvent('ParticipantTrackMuted', (e) => e.args[0].id === alice.id, 5000);
    await carol.p.waitForEvent('ParticipantTrackMuted', (e) => e.args[0].id === alice.id, 5000);

    // The REST API and the dashboard's view see one space with everyone.
    const status = await e2e.spaceStatus(space.id);
    assert.equal(status.status, 'active');

    // Bob leaves: the others hear it once, and Alice's video keeps reaching Carol.
    await bob.p.leave();
    await alice.p.waitForEvent('ParticipantLeft', (e) => e.args[0].id === bob.id, 5000);
    await carol.p.waitForEvent('ParticipantLeft', (e) => e.args[0].id === bob.id, 5000);
    const watched = await carol.p.watchFrames(alice.id, 2000);
    assert.ok(watched.frames >= 10, `carol still decodes alice: ${JSON.stringify(watched)}`);
    assert.deepEqual(alice.p.pageErrors, []);
    assert.deepEqual(carol.p.pageErrors, []);
  });
});
