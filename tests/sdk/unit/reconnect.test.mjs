// Reconnection of the Space state machine against the fake signaling server: attempts with
// reconnect_id/reconnect_attempt 5 s apart, the participant list of the new `joined`
// reconciled with what was known (including tracks added and removed meanwhile, which
// @mux/spaces-web 1.2.0 drops), republishing, the server ending a session for good.

import assert from 'node:assert/strict';
import { afterEach, describe, mock, test } from 'node:test';
import { joined, offer, participant, wireTrack } from './fakes.mjs';
import { SDK, joinedSpace, localTracks, settle } from './helpers.mjs';

let world;
afterEach(() => {
  mock.timers.reset();
  world?.space?.leave();
  world?.restore?.();
  world = undefined;
});

const alice = (tracks, extra = {}) => participant('conn-a', { id: 'alice', name: 'Alice', tracks, ...extra });
const cam = (tid = 'a-cam', extra) => wireTrack(tid, 2, 'camera', extra);
const mic = (tid = 'a-mic', extra) => wireTrack(tid, 1, 'microphone', extra);

describe('reconnection', () => {
  test('a dropped socket: Reconnecting, media unsubscribed, attempt 1 at once with reconnect_id; Reconnected with the new connection id', async () => {
    world = await joinedSpace({ options: { displayName: 'Me' }, join: { participants: [alice([cam()])] } });
    const { server, conn, space, events, local } = world;
    conn.send({ sub_offer: { sfu_id: 'sfu-1', sdp: offer([{ mid: '0', kind: 'video', tid: 'a-cam' }]) } });
    await settle();
    const mark = events.length;
    conn.close(1006);
    await settle();
    assert.deepEqual(events.since(mark), [['LocalParticipantReconnecting'], ['ParticipantTrackUnsubscribed', 'alice', 'a-cam']]);
    const second = await server.nextConnection();
    assert.equal(second.query.reconnect_id, 'me');
    assert.equal(second.query.reconnect_attempt, '1');
    assert.equal(second.query.token, conn.query.token);
    assert.equal(second.query.display_name, 'Me');
    second.send(joined({ connection_id: 'conn-me-2', session_id: 'session-1', participants: [alice([cam()])] }));
    await settle();
    second.send({ sub_offer: { sfu_id: 'sfu-1', sdp: offer([{ mid: '0', kind: 'video', tid: 'a-cam' }]) } });
    await settle();
    assert.deepEqual(events.since(mark + 2), [
      ['LocalParticipantReconnected', 'me'],
      ['ParticipantTrackSubscribed', 'alice', 'a-cam'],
    ]);
    assert.equal(local.connectionId, 'conn-me-2');
    assert.equal(space.localParticipant, local, 'the same LocalParticipant object');
    assert.equal(server.connections.length, 2, 'one reconnection, not two loops');
  });

  test('what changed while away is reconciled: left, joined, tracks added and removed, mute and name changes (the @mux/spaces-web bug fixed)', async () => {
    world = await joinedSpace({
      join: {
        participants: [
          alice([cam(), mic()]),
          participant('conn-b', { id: 'bob', tracks: [mic('b-mic')] }),
        ],
      },
    });
    const { server, conn, events, space } = world;
    conn.close(1001);
    const second = await server.nextConnection();
    const mark = events.length;
    second.send(
      joined({
        connection_id: 'conn-me-2',
        participants: [
          // alice: camera gone, a screen share new, microphone now muted, renamed
          alice([mic('a-mic', { muted: true }), wireTrack('a-screen', 2, 'screenshare')], { name: 'Alice (away)' }),
          // bob left; carol is new
          participant('conn-c', { id: 'carol', tracks: [cam('c-cam')] }),
        ],
      }),
    );
    await settle();
    second.send({ sub_offer: { sfu_id: 'sfu-1', sdp: offer([{ mid: '0', kind: 'video', tid: 'a-screen' }, { mid: '1', kind: 'video', tid: 'c-cam' }]) } });
    await settle();
    assert.deepEqual(events.since(mark), [
      ['ParticipantDisplayNameChanged', 'alice'],
      ['ParticipantTrackUnpublished', 'alice', 'a-cam'],
      ['ParticipantTrackMuted', 'alice', 'a-mic'],
      ['ParticipantTrackPublished', 'alice', 'a-screen'],
      ['ParticipantJoined', 'carol'],
      ['ParticipantTrackUnpublished', 'bob', 'b-mic'],
      ['ParticipantLeft', 'bob'],
      ['LocalParticipantReconnected', 'me'],
      ['ParticipantTrackSubscribed', 'alice', 'a-screen'],
      ['ParticipantTrackSubscribed', 'carol', 'c-cam'],
    ]);
    const a = [...space['participants'].values()].find((p) => p.id === 'alice');
    assert.deepEqual(a.getTracks().map((t) => t.tid), ['a-mic', 'a-screen']);
    assert.equal(a.displayName, 'Alice (away)');
  });

  test('published tracks are republished on the new connection with the same tids (and their mute state); no local events', async () => {
    world = await joinedSpace();
    const { server, conn, local, events } = world;
    const [m, c] = await localTracks('audio', 'video');
    await local.publishTracks([m, c]);
    await conn.waitFor((x) => x.offer);
    conn.send({ answer: 'answer' });
    await settle();
    m.mute();
    conn.close(1006);
    const second = await server.nextConnection();
    const mark = events.length;
    second.send(joined({ connection_id: 'conn-me-2' }));
    await second.waitFor((x) => x.offer, 'the republish offer');
    const pending = second.messages('pending_track').map((x) => x.pending_track);
    assert.deepEqual(pending.map((p) => [p.tid, p.muted, p.mid]), [[m.tid, true, '0'], [c.tid, false, '1']]);
    assert.deepEqual(second.messages('mute_track'), [], 'the mute state rides on pending_track');
    assert.deepEqual(events.since(mark).map((e) => e[0]), ['LocalParticipantReconnected']);
    assert.equal(world.pcs.filter((pc) => !pc.closed).length, 2, 'the old peer connections are closed');
  });

  test('a track published while reconnecting goes out with the others once reconnected', async () => {
    world = await joinedSpace();
    const { server, conn, local } = world;
    conn.close(1006);
    const [c] = await localTracks('video');
    await local.publishTracks([c]);
    const second = await server.nextConnection();
    second.send(joined({ connection_id: 'conn-me-2' }));
    const p = await second.waitFor((x) => x.pending_track);
    assert.equal(p.pending_track.tid, c.tid);
  });

  test('failed attempts are retried 5 s apart (1..5); after the 5th, LocalParticipantReconnectFailed(DisconnectedError)', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    world = await joinedSpace();
    const { server, conn, events } = world;
    server.accepting = false;
    conn.close(1006);
    await settle();
    assert.deepEqual(events.names(), ['LocalParticipantReconnecting']);
    assert.equal(server.dials, 2, 'attempt 1 at once');
    for (let attempt = 2; attempt <= 5; attempt++) {
      mock.timers.tick(4_999);
      await settle();
      assert.equal(server.dials, attempt, `no attempt ${attempt} before 5 s`);
      if (attempt === 4) server.accepting = true; // these open, but the server refuses them
      mock.timers.tick(1);
      await settle();
      assert.equal(server.dials, attempt + 1, `attempt ${attempt} after 5 s`);
      if (attempt >= 4) {
        const c = await server.nextConnection();
        assert.equal(c.query.reconnect_attempt, String(attempt));
        c.send({ error: { type: 1, message: 'try later', visibility: 1 } });
        await settle();
      }
    }
    assert.deepEqual(events.names(), ['LocalParticipantReconnecting', 'LocalParticipantReconnectFailed']);
    assert.equal(events.at(-1)[1], 'DisconnectedError: Failed to reconnect to the server.');
    mock.timers.tick(60_000);
    await settle();
    assert.equal(server.dials, 6, 'no attempt after giving up');
  });

  test('an attempt that never gets an answer times out (10 s) and the next one follows', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    world = await joinedSpace();
    const { server, conn } = world;
    conn.close(1006);
    const silent = await server.nextConnection();
    assert.equal(silent.query.reconnect_attempt, '1');
    mock.timers.tick(10_000);
    await settle();
    assert.equal(silent.closedWith?.by, 'client');
    mock.timers.tick(5_000);
    await settle();
    const next = await server.nextConnection();
    assert.equal(next.query.reconnect_attempt, '2');
    next.send(joined({ connection_id: 'conn-me-2' }));
    await settle();
    assert.ok(world.events.names().includes('LocalParticipantReconnected'));
  });

  test('a token refused on reconnection (InvalidJWT) ends the retries at once', async () => {
    world = await joinedSpace();
    const { server, conn, events } = world;
    conn.close(1006);
    const c = await server.nextConnection();
    c.send({ error: { type: 6, message: 'join token expired', visibility: 1, fatal: true } });
    await settle();
    assert.deepEqual(events.names(), ['LocalParticipantReconnecting', 'LocalParticipantReconnectFailed']);
  });

  test('close 4000 after joined: no reconnection; LocalParticipantReconnectFailed with the reason', async () => {
    world = await joinedSpace();
    const { server, conn, events } = world;
    conn.close(4000, 'replaced by a newer connection');
    await settle();
    assert.deepEqual([...events], [['LocalParticipantReconnectFailed', 'DisconnectedError: The server closed the connection: replaced by a newer connection']]);
    assert.equal(server.connections.length, 1);
  });

  test('error {fatal, retry}: exactly one reconnection (the old socket\'s close does not start a second loop)', async () => {
    world = await joinedSpace();
    const { server, conn, events } = world;
    conn.send({ error: { type: 4, message: 'peer connection closed', visibility: 1, fatal: true, retry: true } });
    await settle();
    assert.equal(conn.closedWith?.by, 'client');
    const second = await server.nextConnection();
    second.send(joined({ connection_id: 'conn-me-2' }));
    await settle();
    assert.equal(server.connections.length, 2);
    assert.deepEqual(events.names(), ['LocalParticipantReconnecting', 'LocalParticipantReconnected']);
  });

  test('error {fatal} without retry: closed for good, LocalParticipantReconnectFailed', async () => {
    world = await joinedSpace();
    const { server, conn, events } = world;
    conn.send({ error: { type: 2, message: 'session time limit', visibility: 1, fatal: true } });
    await settle();
    assert.deepEqual([...events], [['LocalParticipantReconnectFailed', 'DisconnectedError: session time limit']]);
    assert.equal(conn.closedWith?.by, 'client');
    assert.equal(server.connections.length, 1);
  });

  test('a publisher connection that stays failed 8 s reconnects the space', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    world = await joinedSpace();
    const { server, pcs, events } = world;
    pcs[1].setConnectionState('failed');
    mock.timers.tick(7_000);
    await settle();
    assert.deepEqual(events.names(), []);
    mock.timers.tick(1_000);
    await settle();
    assert.deepEqual(events.names(), ['LocalParticipantReconnecting']);
    assert.equal((await server.nextConnection()).query.reconnect_attempt, '1');
  });

  test('pending requests fail with WebsocketError when the connection drops', async () => {
    world = await joinedSpace();
    const { conn, local } = world;
    const sending = local.publishCustomEvent('lost');
    await conn.waitFor((x) => x.custom_event);
    conn.close(1006);
    await assert.rejects(sending, SDK.WebsocketError);
  });

  test('MANUAL mode: subscribed participants are subscribed again after a reconnection', async () => {
    world = await joinedSpace({ options: { subscriptionMode: 'MANUAL' }, join: { participants: [alice([cam()])] } });
    const { server, conn, space } = world;
    const a = [...space['participants'].values()][0];
    const subscribing = a.subscribe();
    const request = await conn.waitFor((x) => x.subscribe_tracks);
    assert.deepEqual(request.subscribe_tracks, { connections: [{ connection_id: 'conn-a', track_ids: ['a-cam'] }] });
    conn.send({ subscribe_tracks: { successes: [{ connection_id: 'conn-a' }], failures: [] } });
    conn.send({ sub_offer: { sfu_id: 'sfu-1', sdp: offer([{ mid: '0', kind: 'video', tid: 'a-cam' }]) } });
    await subscribing;
    conn.close(1006);
    const second = await server.nextConnection();
    second.send(joined({ connection_id: 'conn-me-2', participants: [alice([cam()])] }));
    const again = await second.waitFor((x) => x.subscribe_tracks);
    assert.deepEqual(again.subscribe_tracks.connections[0].track_ids, ['a-cam']);
  });
});

describe('manual subscriptions', () => {
  test('subscribe(): subscribe_tracks, then resolves once media of every track arrived; later tracks are subscribed too; unsubscribe()', async () => {
    world = await joinedSpace({ options: { subscriptionMode: 'MANUAL' }, join: { participants: [alice([cam(), mic()])] } });
    const { conn, space, events } = world;
    const a = [...space['participants'].values()][0];
    // Media the server sends anyway is attached silently.
    let resolved = false;
    const subscribing = a.subscribe().then(() => (resolved = true));
    assert.equal(a.isSubscribed(), true);
    const request = await conn.waitFor((x) => x.subscribe_tracks);
    assert.deepEqual(request.subscribe_tracks.connections[0].track_ids, ['a-mic', 'a-cam']);
    conn.send({ subscribe_tracks: { successes: [{ connection_id: 'conn-a' }], failures: [] } });
    conn.send({ sub_offer: { sfu_id: 'sfu-1', sdp: offer([{ mid: '0', kind: 'video', tid: 'a-cam' }]) } });
    await settle();
    assert.equal(resolved, false, 'waits for the microphone too');
    conn.send({ sub_offer: { sfu_id: 'sfu-1', sdp: offer([{ mid: '0', kind: 'video', tid: 'a-cam' }, { mid: '1', kind: 'audio', tid: 'a-mic' }]) } });
    await subscribing;
    assert.equal(events.of('ParticipantTrackSubscribed').length, 2);

    conn.send({ add_track: { connection_id: 'conn-a', track: wireTrack('a-screen', 2, 'screenshare') } });
    const more = await conn.waitFor((x) => x.subscribe_tracks?.connections[0].track_ids[0] === 'a-screen');
    assert.ok(more);

    const unsubscribing = a.unsubscribe();
    const u = await conn.waitFor((x) => x.unsubscribe_tracks);
    assert.equal(u.unsubscribe_tracks.connections[0].connection_id, 'conn-a');
    conn.send({ unsubscribe_tracks: { successes: [{ connection_id: 'conn-a' }], failures: [] } });
    conn.send({ sub_offer: { sfu_id: 'sfu-1', sdp: offer([{ mid: '0', kind: 'video', tid: 'a-cam', direction: 'inactive' }, { mid: '1', kind: 'audio', tid: 'a-mic', direction: 'inactive' }]) } });
    await unsubscribing;
    assert.equal(events.of('ParticipantTrackUnsubscribed').length, 2);
    assert.equal(a.isSubscribed(), false);
  });

  test('a failure in the reply rejects subscribe() with SubscriptionError; automatic mode refuses subscribe()', async () => {
    world = await joinedSpace({ options: { subscriptionMode: 'MANUAL' }, join: { participants: [alice([cam()])] } });
    const { conn, space } = world;
    const a = [...space['participants'].values()][0];
    const subscribing = a.subscribe();
    await conn.waitFor((x) => x.subscribe_tracks);
    conn.send({ subscribe_tracks: { successes: [], failures: [{ connection_id: 'conn-a' }] } });
    await assert.rejects(subscribing, (e) => e instanceof SDK.SubscriptionError && e.message === 'Subscribe failed');
    world.space.leave();
    world.restore();
    world = await joinedSpace({ join: { participants: [alice([cam()])] } });
    const b = [...world.space['participants'].values()][0];
    await assert.rejects(b.subscribe(), (e) => e instanceof SDK.SubscriptionError && /automatic subscriptions are enabled/.test(e.message));
  });
});
