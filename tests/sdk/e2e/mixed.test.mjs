// Mixed spaces: participants on the unmodified @mux/spaces-web 1.2.0 and on Oriel's SDK in the
// same space see and hear each other (frames decoded both ways), and exchange custom events,
// mute states and display names. (ORIEL_E2E_SDK=mixed also runs every scenario of tests/e2e
// with the two SDKs alternating.)

import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { useSdkE2E, eventually, sleep } from '../lib/fixture.mjs';

const e2e = useSdkE2E();

async function publishBoth(x) {
  const r = await x.p.publishCameraAndMic();
  assert.equal(r.ok, true, `${x.id} (${x.sdk}): ${JSON.stringify(r.error)}`);
  return { cam: r.tracks.find((t) => t.trackKind === 2).tid, mic: r.tracks.find((t) => t.trackKind === 1).tid };
}

describe('mixed spaces', () => {
  e2e.test('two Oriel and two Mux publishers: everyone decodes everyone else\'s camera and receives their audio', async (t) => {
    const space = await e2e.env.createSpace();
    const people = [];
    for (const [name, sdk] of [['alice', 'oriel'], ['bob', 'mux'], ['carol', 'oriel'], ['dave', 'mux']]) {
      people.push(await e2e.joined(name, space.id, { sdk, options: { displayName: name[0].toUpperCase() + name.slice(1) } }));
    }
    const tids = new Map();
    for (const x of people) tids.set(x.id, await publishBoth(x));
    const t0 = Date.now();
    for (const viewer of people) {
      for (const other of people) {
        if (other === viewer) continue;
        await viewer.p.waitForEvent('ParticipantTrackSubscribed', (e) => e.args[1].tid === tids.get(other.id).cam, 15_000);
        await viewer.p.waitForFrames(other.id, 15, 20_000);
      }
      await eventually(
        () => viewer.p.inboundStats(),
        (stats) => stats.filter((s) => s.kind === 'audio' && s.packetsReceived > 10).length >= 3,
        { timeoutMs: 10_000, what: `${viewer.id} receiving audio from the three others` },
      );
    }
    t.diagnostic(`12 decoding directions in ${Date.now() - t0} ms`);
    for (const x of people) assert.deepEqual(x.p.pageErrors, [], `${x.id} (${x.sdk}) page errors`);
    for (const x of people) assert.deepEqual(x.p.externalRequests, []);
  });

  e2e.test('custom events, mutes and display names cross between the SDKs', async () => {
    const space = await e2e.env.createSpace();
    const ann = await e2e.joined('ann', space.id, { sdk: 'oriel', options: { displayName: 'Ann' } });
    const ben = await e2e.joined('ben', space.id, { sdk: 'mux', options: { displayName: 'Ben' } });
    const cleo = await e2e.joined('cleo', space.id, { sdk: 'oriel', role: 'subscriber' });
    const annTracks = await publishBoth(ann);
    const benTracks = await publishBoth(ben);

    // Custom events: Oriel → Mux and Mux → Oriel, in one order for everyone.
    const a = await ann.p.customEvent('from ann (oriel)');
    assert.equal(a.ok, true, JSON.stringify(a.error));
    assert.equal(a.value.payload, 'from ann (oriel)');
    assert.equal(typeof a.value.sequenceNumber, 'number');
    await sleep(300);
    const b = await ben.p.customEvent('from ben (mux)');
    assert.equal(b.ok, true, JSON.stringify(b.error));
    const got = async (x) =>
      (await x.p.events()).filter((e) => e.name === 'ParticipantCustomEventPublished' && !e.args[0].local).map((e) => [e.args[0].id, e.args[1].payload, e.args[1].sequenceNumber]);
    await eventually(() => got(cleo), (v) => v.length === 2, { what: 'both events at cleo' });
    assert.deepEqual(await got(cleo), [[ann.id, 'from ann (oriel)', a.value.sequenceNumber], [ben.id, 'from ben (mux)', b.value.sequence_num]]);
    await eventually(() => got(ben), (v) => v.length === 1, { what: 'ann\'s event at ben (mux)' });
    assert.deepEqual(await got(ann), [[ben.id, 'from ben (mux)', b.value.sequence_num]]);

    // Mutes both ways.
    assert.equal((await ann.p.mute(annTracks.mic)).ok, true);
    assert.equal((await ben.p.mute(benTracks.cam)).ok, true);
    await ben.p.waitForEvent('ParticipantTrackMuted', (e) => e.args[1].tid === annTracks.mic, 5000);
    await cleo.p.waitForEvent('ParticipantTrackMuted', (e) => e.args[1].tid === annTracks.mic, 5000);
    await ann.p.waitForEvent('ParticipantTrackMuted', (e) => e.args[1].tid === benTracks.cam, 5000);
    await cleo.p.waitForEvent('ParticipantTrackMuted', (e) => e.args[1].tid === benTracks.cam, 5000);
    assert.equal((await ann.p.unmute(annTracks.mic)).ok, true);
    await ben.p.waitForEvent('ParticipantTrackUnmuted', (e) => e.args[1].tid === annTracks.mic, 5000);

    // Display names both ways.
    assert.equal((await ben.p.setDisplayName('Benjamin')).ok, true);
    const renamed = await ann.p.waitForEvent('ParticipantDisplayNameChanged', (e) => e.args[0].id === ben.id, 5000);
    assert.equal(renamed.args[0].displayName, 'Benjamin');
    assert.equal((await ann.p.setDisplayName('Annabel')).ok, true);
    assert.equal((await ben.p.waitForEvent('ParticipantDisplayNameChanged', (e) => e.args[0].id === ann.id, 5000)).args[0].displayName, 'Annabel');
    for (const x of [ann, ben, cleo]) assert.deepEqual(x.p.pageErrors, []);
  });
});
