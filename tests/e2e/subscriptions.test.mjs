// Who gets which media, with the unmodified @mux/spaces-web@1.2.0: manual subscriptions
// (`subscriptionMode: 'MANUAL'`), and roles: a subscriber can never publish, whatever it sends.

import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { useE2E, eventually, sleep, pid } from './lib/fixture.mjs';

const e2e = useE2E();

/** Sum of packetsReceived over a page's inbound streams of `kind`. */
const packets = async (p, kind) => (await p.inboundStats()).filter((s) => s.kind === kind).reduce((n, s) => n + (s.packetsReceived || 0), 0);

describe('manual subscriptions', () => {
  e2e.test('a MANUAL subscriber gets no media until subscribe(), then decodes frames; unsubscribe() ends it with ParticipantTrackUnsubscribed; subscribe() again resumes', async (t) => {
    const space = await e2e.env.createSpace();
    const pub = await e2e.joined('pub', space.id);
    const both = await pub.p.publishCameraAndMic();
    assert.equal(both.ok, true, JSON.stringify(both.error));
    const tids = both.tracks.map((x) => x.tid).sort();
    const viewer = await e2e.joined('manual', space.id, { role: 'subscriber', options: { subscriptionMode: 'MANUAL' } });
    const [socket] = await viewer.p.sockets();
    assert.match(socket.url, /[?&]managed_subscriptions=0(&|$)/, 'MANUAL mode dials managed_subscriptions=0');

    // It knows the publisher and its tracks, but receives nothing.
    const joinedEv = await viewer.p.waitForEvent('ParticipantJoined', (e) => e.args[0].id === pub.id, 2000);
    assert.deepEqual(joinedEv.args[0].tracks.map((x) => x.tid).sort(), tids);
    await sleep(2000);
    assert.deepEqual((await viewer.p.events()).filter((e) => e.name === 'ParticipantTrackSubscribed'), [], 'no subscription before subscribe()');
    assert.equal(await packets(viewer.p, 'video'), 0, 'no video packets before subscribe()');
    assert.equal(await packets(viewer.p, 'audio'), 0, 'no audio packets before subscribe()');
    assert.equal((await viewer.p.framesDecoded(pub.id)).framesDecoded, 0);

    // subscribe(): the reply names the publisher's connection; both tracks arrive and decode.
    const t0 = Date.now();
    const sub = await viewer.p.subscribe(pub.id);
    assert.equal(sub.ok, true, `subscribe(): ${JSON.stringify(sub.error)}`);
    assert.equal(sub.subscribed, true);
    const pubConn = pub.joined.localParticipant.connectionId;
    const request = (await viewer.p.signalFrames()).find((f) => f.dir === 'out' && f.data.subscribe_tracks);
    assert.equal(request.data.subscribe_tracks.connections[0].connection_id, pubConn);
    const [reply] = await viewer.p.received('subscribe_tracks');
    assert.deepEqual(reply.value, { successes: [{ connection_id: pubConn }], failures: [] });
    for (const tid of tids) await viewer.p.waitForEvent('ParticipantTrackSubscribed', (e) => e.args[1].tid === tid, 5000);
    await viewer.p.waitForFrames(pub.id, 20, 15_000);
    t.diagnostic(`subscribe() to 20 decoded frames: ${Date.now() - t0} ms`);
    await eventually(() => packets(viewer.p, 'audio'), (n) => n > 20, { timeoutMs: 5000, what: 'audio after subscribe()' });

    // unsubscribe(): both tracks unsubscribed, media stops.
    const mark = (await viewer.p.events()).at(-1).seq;
    const unsub = await viewer.p.unsubscribe(pub.id);
    assert.equal(unsub.ok, true, `unsubscribe(): ${JSON.stringify(unsub.error)}`);
    const [unreply] = await viewer.p.received('unsubscribe_tracks');
    assert.deepEqual(unreply.value, { successes: [{ connection_id: pubConn }], failures: [] });
    const after = (await viewer.p.events(mark)).filter((e) => e.name === 'ParticipantTrackUnsubscribed').map((e) => e.args[1].tid);
    assert.deepEqual(after.sort(), tids, 'ParticipantTrackUnsubscribed for both tracks');
    assert.deepEqual((await viewer.p.events(mark)).filter((e) => e.name === 'ParticipantTrackUnpublished' || e.name === 'ParticipantLeft'), [], 'the publisher did not go anywhere');
    await sleep(500);
    const v1 = await packets(viewer.p, 'video');
    await sleep(1000);
    const v2 = await packets(viewer.p, 'video');
    assert.ok(v2 - v1 <= 2, `video packets still arriving after unsubscribe(): ${v1} → ${v2} in 1 s`);

    // subscribe() again: media resumes.
    const again = await viewer.p.subscribe(pub.id);
    assert.equal(again.ok, true, `second subscribe(): ${JSON.stringify(again.error)}`);
    await viewer.p.waitForFrames(pub.id, 10, 10_000);
    assert.deepEqual([...viewer.p.pageErrors, ...pub.p.pageErrors], []);
  });
});

describe('roles', () => {
  e2e.test('a subscriber that tries to publish: the SDK refuses; raw pending_track + offer + custom_event get error frames, never an answer, and nobody sees a new track', async () => {
    const space = await e2e.env.createSpace();
    const pub = await e2e.joined('pub', space.id);
    const cam = await pub.p.publishCamera();
    assert.equal(cam.ok, true, JSON.stringify(cam.error));
    const sub = await e2e.joined('sub', space.id, { role: 'subscriber' });

    // The SDK refuses client-side.
    const tried = await sub.p.publishCamera();
    assert.equal(tried.ok, false);
    assert.equal(tried.stage, 'publishTracks');
    assert.match(tried.error.message, /subscriber/);
    const ev = await sub.p.customEvent('hi');
    assert.equal(ev.ok, false);
    assert.match(ev.error.message, /publisher role/);
    assert.deepEqual((await sub.p.signalFrames()).filter((f) => f.dir === 'out' && (f.data.offer || f.data.pending_track || f.data.custom_event)), [], 'nothing went out');

    // A raw client with a subscriber token sends it anyway, with a real offer from Chromium.
    const { sdp, mids } = await pub.p.makeOffer();
    const raw = await e2e.raw(e2e.env.sign(space.id, { participantId: pid('raw-sub'), role: 'subscriber' }));
    await pub.p.waitForEvent('ParticipantJoined', (e) => e.args[0].connectionId === raw.connectionId, 3000);
    const from = raw.frames.length;
    const tidsSent = [];
    for (const { mid, kind } of mids) {
      const tid = `sneaky-${kind}-${process.pid}`;
      tidsSent.push(tid);
      await raw.send({ pending_track: { tid, type: kind === 'audio' ? 1 : 2, name: 'sneaky', muted: false, source: kind === 'audio' ? 'microphone' : 'camera', width: 640, height: 480, mid } });
    }
    await raw.send({ offer: sdp });
    await raw.send({ custom_event: { id: 'sneaky-event', payload: 'nope', scope: 1 }, request_id: 'sneaky-event' });
    await eventually(() => raw.frames.slice(from).filter((f) => f.data.error).length, (n) => n >= mids.length + 2, {
      timeoutMs: 3000,
      what: `an error for each of ${mids.length} pending_track, the offer and the custom_event: ${raw.describe()}`,
    });
    await sleep(1000); // anything else (an answer, an echo) would have arrived by now
    const replies = raw.frames.slice(from).map((f) => f.data);
    assert.deepEqual(replies.filter((m) => m.answer), [], 'no answer to a subscriber\'s offer');
    assert.deepEqual(replies.filter((m) => m.custom_event), [], 'no echo of a subscriber\'s custom event');
    const errors = replies.filter((m) => m.error).map((m) => m.error);
    assert.equal(errors.length, replies.length, `only error frames came back: ${JSON.stringify(replies)}`);
    assert.ok(errors.every((e) => typeof e.message === 'string' && e.message.length > 0));
    const forEvent = errors.filter((e) => e.request_error?.correlator === 'sneaky-event');
    assert.equal(forEvent.length, 1);
    assert.equal(forEvent[0].type, 5, 'CustomEventError');
    const pending = errors.filter((e) => !e.request_error);
    assert.ok(pending.filter((e) => e.type === 5).length >= mids.length, `InvalidPendingTrack (5) for each pending_track: ${JSON.stringify(errors)}`);
    assert.equal(raw.closeInfo, null, 'refusals are not fatal');

    // Nobody saw a new track: no add_track, no ParticipantTrackPublished, and the server lists none.
    for (const x of [pub, sub]) {
      assert.deepEqual(await x.p.received('add_track'), [], `${x.id} got add_track`);
      assert.deepEqual((await x.p.events()).filter((e) => e.name === 'ParticipantTrackPublished' && e.args[0].local === false), []);
      assert.deepEqual(await x.p.received('custom_event'), []);
    }
    const observer = await e2e.raw(e2e.env.sign(space.id, { participantId: pid('observer'), role: 'subscriber' }));
    const listed = observer.joined.participants.find((p) => p.connection_id === raw.connectionId);
    assert.deepEqual(listed.tracks, [], 'the raw subscriber has no track');
    assert.deepEqual(observer.joined.participants.find((p) => p.participant_id === pub.id).tracks.map((x) => x.tid), [cam.tracks[0].tid]);
    // The real publisher is undisturbed: the subscriber page still decodes it.
    await sub.p.waitForFrames(pub.id, 10, 10_000);
  });
});
