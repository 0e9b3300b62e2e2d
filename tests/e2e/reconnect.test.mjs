// Reconnection with the unmodified @mux/spaces-web@1.2.0. The SDK reconnects after any close of its
// signaling socket that is not 4000. The test drops that socket from inside the page
// (lib/page/ws-tap.js keeps a handle on it) with code 1000, as a network drop would look to the
// SDK: it reconnects with `reconnect_id` = its participant_id, and republishes its tracks.

import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { useE2E, eventually, sleep, pid } from './lib/fixture.mjs';

const e2e = useE2E();

/** Sum of framesDecoded over every inbound video stream of a page (old and new streams alike). */
const totalFrames = async (p) => (await p.inboundStats()).filter((s) => s.kind === 'video').reduce((n, s) => n + (s.framesDecoded || 0), 0);

/** The page's signaling sockets (URL /pluto/v1), oldest first. */
const signalingSockets = async (p) => (await p.sockets()).filter((s) => s.url.includes('/pluto/v1'));

/** Incoming frames on socket `index` of a page, in order. */
const inboundOn = async (p, index) => (await p.signalFrames()).filter((f) => f.socket === index && f.dir === 'in').map((f) => f.data);
const outboundOn = async (p, index) => (await p.signalFrames()).filter((f) => f.socket === index && f.dir === 'out').map((f) => f.data);

describe('reconnection', () => {
  e2e.test('a publisher whose socket drops (close 1000): Reconnecting → Reconnected, same identity (not a duplicate), tracks republished, the subscriber decodes it again', async (t) => {
    const space = await e2e.env.createSpace();
    const viewer = await e2e.joined('viewer', space.id, { role: 'subscriber' });
    const pub = await e2e.joined('pub', space.id, { options: { displayName: 'Pub' } }); // token with participant_id
    const both = await pub.p.publishCameraAndMic();
    assert.equal(both.ok, true, JSON.stringify(both.error));
    const camTid = both.tracks.find((x) => x.trackKind === 2).tid;
    const micTid = both.tracks.find((x) => x.trackKind === 1).tid;
    await viewer.p.waitForFrames(pub.id, 20, 15_000);
    const session = await e2e.spaceStatus(space.id);
    const framesBefore = await totalFrames(viewer.p);
    const viewerMark = (await viewer.p.events()).at(-1).seq;

    const [first] = await signalingSockets(pub.p);
    const dropped = await pub.p.dropSignalSocket(1000);
    assert.equal(dropped.ok, true, JSON.stringify(dropped));
    const t0 = Date.now();
    const reconnecting = await pub.p.waitForEvent('LocalParticipantReconnecting', () => true, 3000);
    const reconnected = await pub.p.waitForEvent('LocalParticipantReconnected', () => true, 10_000);
    assert.ok(reconnecting.seq < reconnected.seq);
    t.diagnostic(`reconnected ${Date.now() - t0} ms after the drop`);
    const events = await pub.p.events();
    assert.deepEqual(events.filter((e) => e.name === 'LocalParticipantReconnectFailed'), []);

    // One new socket, dialed with reconnect_id, answered with `joined` (not error 3), same participant.
    const sockets = await signalingSockets(pub.p);
    assert.equal(sockets.length, 2, JSON.stringify(sockets));
    const second = sockets[1];
    // The page closed with 1000; oriel does not answer a client's close frame (see
    // bad-input.test.mjs), so Chromium reports 1006. Either way it is not 4000: the SDK reconnects.
    assert.notEqual(sockets[0].closeCode, 4000);
    assert.notEqual(sockets[0].closeCode, null, 'the old socket is closed');
    const url = new URL(second.url);
    assert.equal(url.searchParams.get('reconnect_id'), pub.id);
    assert.equal(url.searchParams.get('reconnect_attempt'), '1');
    const incoming = await inboundOn(pub.p, second.index);
    assert.ok(incoming[0]?.joined, `first frame on the new socket: ${JSON.stringify(incoming[0]).slice(0, 300)}`);
    assert.deepEqual(incoming.filter((m) => m.error), [], 'no error on the new socket');
    const joined = incoming[0].joined;
    assert.equal(joined.participant_id, pub.id, 'same participant_id after the reconnection');
    assert.equal(joined.session_id, session.active_session_id, 'same session');
    assert.notEqual(joined.connection_id, pub.joined.localParticipant.connectionId, 'a new connection_id');
    assert.deepEqual(joined.participants.map((p) => p.participant_id), [viewer.id], 'the old connection is not listed as someone else');
    assert.equal(second.readyState, 1, 'the new socket stays open');
    assert.equal(first.index, 0);

    // Tracks republished on the new socket: pending_track with the same tids, an offer, an answer.
    await eventually(() => inboundOn(pub.p, second.index), (ms) => ms.some((m) => m.answer), { timeoutMs: 5000, what: 'an answer to the republish offer' });
    const out = await outboundOn(pub.p, second.index);
    assert.deepEqual(out.filter((m) => m.pending_track).map((m) => m.pending_track.tid).sort(), [camTid, micTid].sort());
    assert.ok(out.some((m) => m.offer), 'an offer on the new socket');

    // The viewer sees the publisher again with its tracks and decodes its video again.
    await viewer.p.waitForEvent('ParticipantTrackSubscribed', (e) => e.seq > viewerMark && e.args[0].id === pub.id && e.args[1].tid === camTid, 10_000);
    const { ms } = await eventually(() => totalFrames(viewer.p), (n) => n >= framesBefore + 30, { timeoutMs: 15_000, intervalMs: 200, what: 'frames decoded after the reconnection' });
    t.diagnostic(`frames before the drop ${framesBefore}; +30 frames ${ms} ms after the subscription`);
    const remote = (await viewer.p.remoteParticipants()).find((p) => p.id === pub.id);
    assert.equal(remote.connectionId, joined.connection_id, 'the viewer knows the new connection');
    assert.deepEqual(remote.tracks.map((x) => x.tid).sort(), [camTid, micTid].sort());
    const frames = await viewer.p.framesDecoded(pub.id);
    assert.ok(frames.framesDecoded > 0, `the new stream decodes: ${JSON.stringify(frames)}`);

    // The space never went idle and keeps its session.
    assert.deepEqual(await e2e.spaceStatus(space.id), session);
    assert.deepEqual([...viewer.p.pageErrors, ...pub.p.pageErrors], []);
  });

  e2e.test('a subscriber whose socket drops reconnects and decodes the publisher again', async () => {
    const space = await e2e.env.createSpace();
    const pub = await e2e.joined('pub', space.id);
    assert.equal((await pub.p.publishCamera()).ok, true);
    const viewer = await e2e.joined('viewer', space.id, { role: 'subscriber' });
    await viewer.p.waitForFrames(pub.id, 20, 15_000);
    const framesBefore = await totalFrames(viewer.p);
    const pubMark = (await pub.p.events()).at(-1).seq;

    assert.equal((await viewer.p.dropSignalSocket(1000)).ok, true);
    await viewer.p.waitForEvent('LocalParticipantReconnecting', () => true, 3000);
    await viewer.p.waitForEvent('LocalParticipantReconnected', () => true, 10_000);
    const sockets = await signalingSockets(viewer.p);
    assert.equal(sockets.length, 2);
    assert.equal(new URL(sockets[1].url).searchParams.get('reconnect_id'), viewer.id);
    assert.ok((await inboundOn(viewer.p, sockets[1].index))[0]?.joined, 'joined on the new socket');
    await eventually(() => totalFrames(viewer.p), (n) => n >= framesBefore + 30, { timeoutMs: 15_000, intervalMs: 200, what: 'frames decoded after the reconnection' });
    // The publisher saw the viewer's old connection leave and the new one arrive.
    // (In either order: the SDK keys remote participants by connection id.)
    const newConnection = (await inboundOn(viewer.p, sockets[1].index))[0].joined.connection_id;
    const seen = (await pub.p.events(pubMark)).filter((e) => e.name === 'ParticipantLeft' || e.name === 'ParticipantJoined').map((e) => [e.name, e.args[0].id, e.args[0].connectionId]);
    assert.deepEqual(seen.sort(), [['ParticipantJoined', viewer.id, newConnection], ['ParticipantLeft', viewer.id, viewer.joined.localParticipant.connectionId]]);
    assert.deepEqual([...viewer.p.pageErrors, ...pub.p.pageErrors], []);
  });

  e2e.test('reconnect_id takeover (raw ws): the same token replaces its live connection, another token with the same participant_id is refused (error 3)', async () => {
    const space = await e2e.env.createSpace();
    const id = pid('twin');
    const jwt = e2e.env.sign(space.id, { participantId: id, role: 'subscriber' });
    const watcher = await e2e.joined('watcher', space.id, { role: 'subscriber' });
    const first = await e2e.raw(jwt);
    assert.equal(first.joined.participant_id, id);

    // Without reconnect_id, the same token while connected is a duplicate.
    const dup = await e2e.raw(jwt, { expectJoined: false });
    assert.equal(dup.messages()[0]?.error?.type, 3, `duplicate: ${dup.describe()}`);
    assert.equal((await dup.closed).code, 4000);

    // Another token naming the same participant_id, with reconnect_id: still refused.
    const otherJwt = e2e.env.sign(space.id, { participantId: id, role: 'subscriber', expiration: '2d' });
    assert.notEqual(otherJwt, jwt);
    const thief = await e2e.raw(otherJwt, { expectJoined: false, extraQuery: { reconnect_id: id, reconnect_attempt: '1' } });
    assert.equal(thief.messages()[0]?.error?.type, 3, `other token: ${thief.describe()}`);
    assert.equal(first.closeInfo, null, 'the first connection survives a refused takeover');

    // The same token with reconnect_id takes over: joined, and the stale connection is closed with 4000.
    const second = await e2e.raw(jwt, { extraQuery: { reconnect_id: id, reconnect_attempt: '1' } });
    assert.equal(second.joined.participant_id, id);
    assert.notEqual(second.connectionId, first.connectionId);
    const closed = await Promise.race([first.closed, sleep(3000).then(() => null)]);
    assert.ok(closed, 'the replaced connection is closed');
    assert.equal(closed.code, 4000, 'closed for good (no reconnect loop of the stale one)');
    // The watcher sees one participant with that id: the old connection left, the new one joined.
    await eventually(() => watcher.p.remoteParticipants(), (rs) => rs.filter((r) => r.id === id).length === 1 && rs.find((r) => r.id === id).connectionId === second.connectionId, {
      timeoutMs: 3000,
      what: 'the watcher knows only the new connection',
    });
  });
});
