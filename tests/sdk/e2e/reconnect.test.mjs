// Reconnection with Oriel's SDK beyond tests/e2e/reconnect.test.mjs (which also passes on it):
// attempts while the server is unreachable, changes made by others meanwhile reconciled from the
// new `joined` (a camera gone, a new camera and a microphone: @mux/spaces-web 1.2.0 drops these),
// and a session the server ends for good (close 4000).

import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { useSdkE2E, eventually, sleep } from '../lib/fixture.mjs';

const e2e = useSdkE2E();

describe('reconnection of the Oriel SDK', () => {
  e2e.test('unreachable for a while: attempt 1 fails, attempt 2 (5 s later) succeeds; tracks unpublished and published meanwhile are reconciled and the new camera decodes', async (t) => {
    const space = await e2e.env.createSpace();
    const pub = await e2e.joined('pub', space.id, { sdk: 'oriel' });
    const viewer = await e2e.joined('viewer', space.id, { sdk: 'oriel', role: 'subscriber' });
    const cam1 = await pub.p.publishCamera();
    assert.equal(cam1.ok, true, JSON.stringify(cam1.error));
    const oldCam = cam1.tracks[0].tid;
    await viewer.p.waitForFrames(pub.id, 10, 15_000);
    const mark = (await viewer.p.events()).at(-1).seq;

    await viewer.p.page.evaluate(() => window.__orielSignal.block());
    const t0 = Date.now();
    assert.equal((await viewer.p.dropSignalSocket(1000)).ok, true);
    await viewer.p.waitForEvent('LocalParticipantReconnecting', (e) => e.seq > mark, 5000);
    await eventually(() => viewer.p.page.evaluate(() => window.__orielSignal.attempts()), (a) => a.length >= 2, { timeoutMs: 3000, what: 'attempt 1 (blocked)' });

    // Meanwhile the publisher replaces its camera and adds a microphone.
    assert.equal((await pub.p.unpublish([oldCam])).ok, true);
    const both = await pub.p.publishCameraAndMic();
    assert.equal(both.ok, true, JSON.stringify(both.error));
    const newCam = both.tracks.find((x) => x.trackKind === 2).tid;
    const mic = both.tracks.find((x) => x.trackKind === 1).tid;
    await sleep(500);
    await viewer.p.page.evaluate(() => window.__orielSignal.unblock());

    const reconnected = await viewer.p.waitForEvent('LocalParticipantReconnected', (e) => e.seq > mark, 12_000);
    t.diagnostic(`reconnected ${Date.now() - t0} ms after the drop`);
    const attempts = await viewer.p.page.evaluate(() => window.__orielSignal.attempts());
    const params = attempts.slice(1).map((a) => Object.fromEntries(new URL(a.url).searchParams));
    assert.deepEqual(params.map((q) => [q.reconnect_id, q.reconnect_attempt]), [[viewer.id, '1'], [viewer.id, '2']]);
    assert.deepEqual(attempts.slice(1).map((a) => a.blocked), [true, false]);
    assert.ok(attempts[2].t - attempts[1].t >= 4900, `attempts 5 s apart: ${attempts[2].t - attempts[1].t} ms`);

    await viewer.p.waitForEvent('ParticipantTrackSubscribed', (e) => e.seq > reconnected.seq && e.args[1].tid === newCam, 10_000);
    const events = (await viewer.p.events(mark)).map((e) => [e.name, e.args[1]?.tid ?? e.args[0]?.id ?? null]);
    const about = (tid) => events.filter((e) => e[1] === tid).map((e) => e[0]);
    assert.deepEqual(about(oldCam), ['ParticipantTrackUnsubscribed', 'ParticipantTrackUnpublished'], 'the old camera: media gone at the drop, unpublished by the reconciliation');
    assert.deepEqual(about(newCam).slice(0, 2), ['ParticipantTrackPublished', 'ParticipantTrackSubscribed']);
    assert.deepEqual(about(mic).slice(0, 2), ['ParticipantTrackPublished', 'ParticipantTrackSubscribed']);
    assert.ok(events.findIndex((e) => e[0] === 'ParticipantTrackPublished' && e[1] === newCam) < events.findIndex((e) => e[0] === 'LocalParticipantReconnected'));
    const remote = (await viewer.p.remoteParticipants()).find((r) => r.id === pub.id);
    assert.deepEqual(remote.tracks.map((x) => x.tid).sort(), [newCam, mic].sort());
    const frames = await viewer.p.waitForFrames(pub.id, 10, 15_000);
    assert.deepEqual(frames.tracks.map((x) => x.tid), [newCam]);
    assert.deepEqual(viewer.p.pageErrors, []);
  });

  e2e.test('the server ends the session for good (the same token takes over elsewhere: close 4000): LocalParticipantReconnectFailed, no reconnection loop', async () => {
    const space = await e2e.env.createSpace();
    const x = await e2e.joined('taken-over', space.id, { sdk: 'oriel', role: 'subscriber' });
    const raw = await e2e.raw(x.jwt, { extraQuery: { reconnect_id: x.id, reconnect_attempt: '1' } });
    assert.equal(raw.joined.participant_id, x.id);
    const failed = await x.p.waitForEvent('LocalParticipantReconnectFailed', () => true, 5000);
    assert.equal(failed.args[0].name, 'DisconnectedError');
    assert.match(failed.args[0].message, /replaced|closed the connection/, 'the server\'s reason');
    await sleep(1500);
    const sockets = (await x.p.sockets()).filter((s) => s.url.includes('/pluto/v1'));
    assert.equal(sockets.length, 1, 'no reconnection attempt');
    assert.equal(sockets[0].closeCode, 4000);
    assert.deepEqual((await x.p.events()).filter((e) => e.name === 'LocalParticipantReconnecting'), []);
  });
});
