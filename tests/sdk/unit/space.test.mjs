// The Space state machine against a fake signaling server (tests/sdk/unit/fakes.mjs), in Node
// with no browser: joining and refusals, the registry of participants and tracks, publishing,
// custom events and display names, active speakers, leave.

import assert from 'node:assert/strict';
import { afterEach, describe, mock, test } from 'node:test';
import { installFakes, jwt, joined, offer, participant, wireTrack, FakePeerConnection, FakeTrack } from './fakes.mjs';
import { SDK, joinedSpace, localTracks, record, settle } from './helpers.mjs';

let world;
afterEach(() => {
  mock.timers.reset();
  world?.space?.leave();
  world?.restore?.();
  world = undefined;
});

describe('join', () => {
  test('dials <backend>/v1 with the token, version, subscription mode and name; resolves on joined', async () => {
    const fakes = installFakes();
    world = fakes;
    const space = new SDK.Space(jwt({ participant_id: 'me' }), { displayName: 'Ann Example', automaticParticipantLimit: 7 });
    world.space = space;
    const joining = space.join();
    const conn = await fakes.server.nextConnection();
    assert.equal(conn.url.origin + conn.url.pathname, 'ws://oriel.test/pluto/v1');
    assert.equal(conn.query.token, jwt({ participant_id: 'me' }));
    assert.equal(conn.query.sdk_version, `oriel-web-${SDK.version}`);
    assert.equal(conn.query.managed_subscriptions, '7');
    assert.equal(conn.query.display_name, 'Ann Example');
    assert.equal(conn.query.reconnect_id, undefined);
    assert.deepEqual(conn.received, [], 'the SDK sends nothing before joined');
    conn.send(joined({ display_name: 'Ann Example' }));
    const local = await joining;
    assert.ok(local instanceof SDK.LocalParticipant);
    assert.equal(local.id, 'me');
    assert.equal(local.connectionId, 'conn-me');
    assert.equal(local.displayName, 'Ann Example');
    assert.equal(local.role, SDK.ParticipantRole.Publisher);
    assert.equal(space.sessionId, 'session-1');
    assert.equal(space.localParticipant, local);
    assert.equal(await space.join(), local, 'join() again gives the same participant');
  });

  test('participants already in arrive as ParticipantJoined before join() resolves (never the joiner itself)', async () => {
    const fakes = installFakes();
    world = fakes;
    const space = new SDK.Space(jwt());
    world.space = space;
    const events = record(space);
    const joining = space.join();
    const conn = await fakes.server.nextConnection();
    conn.send(
      joined({
        participants: [
          participant('conn-a', { id: 'alice', name: 'Alice', tracks: [wireTrack('a-cam', 2, 'camera'), wireTrack('a-mic', 1, 'microphone', { muted: true })] }),
          participant('conn-me', { id: 'me' }),
          participant('conn-b', { id: 'bob', role: 2 }),
        ],
      }),
    );
    let resolved = false;
    joining.then(() => (resolved = true));
    await joining;
    assert.deepEqual(events.of('ParticipantJoined'), [['ParticipantJoined', 'alice'], ['ParticipantJoined', 'bob']]);
    assert.ok(resolved);
    const alice = space.localParticipant && [...space['participants'].values()].find((p) => p.id === 'alice');
    assert.equal(alice.displayName, 'Alice');
    assert.equal(alice.role, SDK.ParticipantRole.Publisher);
    assert.equal(alice.status, SDK.ParticipantStatus.Connected);
    assert.deepEqual(alice.getVideoTracks().map((t) => [t.tid, t.kind, t.source, t.width]), [['a-cam', SDK.TrackKind.Video, 'camera', 640]]);
    assert.deepEqual(alice.getAudioTracks().map((t) => [t.tid, t.muted, t.hasMedia()]), [['a-mic', true, false]]);
    assert.equal(events.of('ParticipantTrackPublished').length, 0, 'tracks of the joined list are not "published" events');
  });

  test('peer connections: one per sub_sfus entry plus the publisher, with exactly the ice_servers of joined (no public STUN)', async () => {
    world = await joinedSpace({
      join: {
        sub_sfus: [{ sfu_id: 'sfu-1', sdp: offer([]) }, { sfu_id: 'sfu-2', sdp: offer([]) }],
        ice_servers: [{ urls: ['turn:127.0.0.1:3478'], username: 'u', credential: 'p', credential_type: 'password' }],
      },
    });
    const { pcs, conn } = world;
    assert.equal(pcs.length, 3);
    for (const pc of pcs) assert.deepEqual(pc.config, { iceServers: [{ urls: ['turn:127.0.0.1:3478'], username: 'u', credential: 'p' }] });
    const answers = conn.messages('sub_answer').map((m) => m.sub_answer.sfu_id);
    assert.deepEqual(answers, ['sfu-1', 'sfu-2']);
  });

  test('ice_servers empty → no ICE server at all', async () => {
    world = await joinedSpace();
    for (const pc of world.pcs) assert.deepEqual(pc.config, { iceServers: [] });
  });

  test('a subscriber-role token: no publisher connection; publishing and custom events are refused client-side', async () => {
    world = await joinedSpace({ claims: { role: 'subscriber', participant_id: 'viewer' }, join: { participant_id: 'viewer' } });
    assert.equal(world.local.role, SDK.ParticipantRole.Subscriber);
    assert.equal(world.pcs.length, 1, 'only the subscriber connection');
    const tracks = await localTracks('video');
    await assert.rejects(world.local.publishTracks(tracks), (e) => e instanceof SDK.PublishTrackError && /subscriber/.test(e.message));
    await assert.rejects(world.local.publishCustomEvent('x'), (e) => e instanceof SDK.PublishCustomEventError && /publisher role/.test(e.message));
    assert.deepEqual(world.conn.messages('offer'), []);
  });

  for (const [type, message, cls] of [
    [6, 'join token expired', 'JWTError'],
    [3, 'participant already connected', 'JWTError'],
    [7, 'the space is full', 'ConnectionError'],
    [2, 'session time limit', 'InternalError'],
  ]) {
    test(`an error (type ${type}) before joined rejects join() with ${cls} and the server's message`, async () => {
      const fakes = installFakes();
      world = fakes;
      const space = new SDK.Space(jwt());
      world.space = space;
      const joining = space.join();
      const conn = await fakes.server.nextConnection();
      conn.send({ error: { type, message, visibility: 1, fatal: true } });
      conn.close(4000, 'closed after an error');
      await assert.rejects(joining, (e) => e instanceof SDK[cls] && e instanceof SDK.MuxError && e.message === message && e.code === type && e.name === cls);
      assert.equal(space.localParticipant, undefined);
    });
  }

  test('a close before joined rejects join() (it does not hang), and join() can be tried again', async () => {
    const fakes = installFakes();
    world = fakes;
    const space = new SDK.Space(jwt());
    world.space = space;
    const joining = space.join();
    (await fakes.server.nextConnection()).close(1011, 'overloaded');
    await assert.rejects(joining, (e) => e instanceof SDK.ConnectionError && /1011/.test(e.message));
    const again = space.join();
    (await fakes.server.nextConnection(1)).send(joined());
    assert.equal((await again).connectionId, 'conn-me');
  });

  test('no answer at all: join() rejects with ConnectionError after 15 s', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    const fakes = installFakes();
    world = fakes;
    const space = new SDK.Space(jwt());
    world.space = space;
    const joining = space.join();
    const conn = await fakes.server.nextConnection();
    let settled = false;
    joining.catch(() => {}).finally(() => (settled = true));
    mock.timers.tick(14_000);
    await settle();
    assert.equal(settled, false);
    mock.timers.tick(1_000);
    await assert.rejects(joining, SDK.ConnectionError);
    assert.equal(conn.closedWith?.by, 'client');
  });

  test('options are checked in the constructor (SpaceOptionsError); a token that is not a JWT is a JWTError', () => {
    for (const limit of [0, 21, 1.5]) {
      assert.throws(() => new SDK.Space(jwt(), { automaticParticipantLimit: limit }), SDK.SpaceOptionsError);
    }
    assert.throws(() => new SDK.Space(jwt(), { displayName: 'x'.repeat(65) }), SDK.SpaceOptionsError);
    assert.throws(() => new SDK.Space(jwt(), { subscriptionMode: 'SOMETIMES' }), SDK.SpaceOptionsError);
    assert.throws(() => new SDK.Space('not-a-jwt'), SDK.JWTError);
    new SDK.Space(jwt(), { displayName: 'é'.repeat(64), automaticParticipantLimit: 20, subscriptionMode: SDK.SubscriptionMode.Manual });
  });

  test('backendUrl: the option wins over window.MUX_SPACES_BACKEND_URL; http(s) becomes ws(s); none at all rejects join()', async () => {
    const fakes = installFakes();
    world = fakes;
    const a = new SDK.Space(jwt(), { backendUrl: 'https://oriel.example.com/pluto/' });
    a.join().catch(() => {});
    assert.equal((await fakes.server.nextConnection()).url.href.split('?')[0], 'wss://oriel.example.com/pluto/v1');
    a.leave();
    const b = new SDK.Space(jwt());
    b.join().catch(() => {});
    assert.equal((await fakes.server.nextConnection(1)).url.href.split('?')[0], 'ws://oriel.test/pluto/v1');
    b.leave();
    delete globalThis.window.MUX_SPACES_BACKEND_URL;
    await assert.rejects(new SDK.Space(jwt()).join(), (e) => e instanceof SDK.ConnectionError && /backendUrl/.test(e.message));
    assert.equal(fakes.server.connections.length, 2);
  });

  test('MANUAL mode dials managed_subscriptions=0', async () => {
    world = await joinedSpace({ options: { subscriptionMode: SDK.SubscriptionMode.Manual } });
    assert.equal(world.conn.query.managed_subscriptions, '0');
  });
});

describe('remote participants and tracks', () => {
  test('participant_connected / add_track / media / remove_track / participant_disconnected, in the order apps expect', async () => {
    world = await joinedSpace();
    const { conn, events, pcs } = world;
    conn.send({ participant_connected: participant('conn-a', { id: 'alice', name: 'Alice' }) });
    conn.send({ add_track: { connection_id: 'conn-a', track: wireTrack('a-cam', 2, 'camera') } });
    conn.send({ add_track: { connection_id: 'conn-a', track: wireTrack('a-mic', 1, 'microphone') } });
    conn.send({ sub_offer: { sfu_id: 'sfu-1', sdp: offer([{ mid: '0', kind: 'video', tid: 'a-cam' }, { mid: '1', kind: 'audio', tid: 'a-mic' }]) } });
    await settle();
    assert.deepEqual(events.names(), [
      'ParticipantJoined',
      'ParticipantTrackPublished',
      'ParticipantTrackPublished',
      'ParticipantTrackSubscribed',
      'ParticipantTrackSubscribed',
    ]);
    assert.equal(conn.messages('sub_answer').length, 2, 'the joined offer and this one are answered');
    const alice = [...world.space['participants'].values()][0];
    assert.equal(alice.isSubscribed(), true);
    assert.equal(alice.videoTracks.get('a-cam').track, pcs[0].transceivers[0].receiver.track);

    // The camera goes away: unsubscribed first (media), then unpublished.
    const mark = events.length;
    conn.send({ remove_track: { connection_id: 'conn-a', track: { tid: 'a-cam' } } });
    await settle();
    assert.deepEqual(events.since(mark), [
      ['ParticipantTrackUnsubscribed', 'alice', 'a-cam'],
      ['ParticipantTrackUnpublished', 'alice', 'a-cam'],
    ]);
    // Its m-section turning inactive later changes nothing more.
    conn.send({ sub_offer: { sfu_id: 'sfu-1', sdp: offer([{ mid: '0', kind: 'video', tid: 'a-cam', direction: 'inactive' }, { mid: '1', kind: 'audio', tid: 'a-mic' }]) } });
    await settle();
    assert.equal(events.length, mark + 2);

    conn.send({ participant_disconnected: { connection_id: 'conn-a' } });
    await settle();
    assert.deepEqual(events.since(mark + 2), [
      ['ParticipantTrackUnsubscribed', 'alice', 'a-mic'],
      ['ParticipantTrackUnpublished', 'alice', 'a-mic'],
      ['ParticipantLeft', 'alice'],
    ]);
    assert.equal(alice.status, SDK.ParticipantStatus.Disconnected);
  });

  test('an m-section turning inactive unsubscribes (removetrack or the transceiver direction), and the same tid can come back', async () => {
    world = await joinedSpace({ join: { participants: [participant('conn-a', { id: 'alice', tracks: [wireTrack('a-cam', 2, 'camera')] })] } });
    const { conn, events, pcs } = world;
    pcs[0].fireRemoveTrack = false; // only the direction tells
    conn.send({ sub_offer: { sfu_id: 'sfu-1', sdp: offer([{ mid: '0', kind: 'video', tid: 'a-cam' }]) } });
    await settle();
    conn.send({ sub_offer: { sfu_id: 'sfu-1', sdp: offer([{ mid: '0', kind: 'video', tid: 'a-cam', direction: 'inactive' }]) } });
    await settle();
    conn.send({ sub_offer: { sfu_id: 'sfu-1', sdp: offer([{ mid: '0', kind: 'video', tid: 'a-cam', direction: 'inactive' }, { mid: '1', kind: 'video', tid: 'a-cam' }]) } });
    await settle();
    assert.deepEqual(events.names().filter((n) => n.includes('Subscribed') || n.includes('Unsubscribed')), [
      'ParticipantTrackSubscribed',
      'ParticipantTrackUnsubscribed',
      'ParticipantTrackSubscribed',
    ]);
    const cam = [...world.space['participants'].values()][0].videoTracks.get('a-cam');
    assert.equal(cam.track, pcs[0].transceivers[1].receiver.track, 'the media of the new m-section');
  });

  test('a recycled m-section: the old tid is unsubscribed, the new one subscribed', async () => {
    world = await joinedSpace({
      join: { participants: [participant('conn-a', { id: 'alice', tracks: [wireTrack('t1', 2, 'camera'), wireTrack('t2', 2, 'screenshare')] })] },
    });
    const { conn, events } = world;
    conn.send({ sub_offer: { sfu_id: 'sfu-1', sdp: offer([{ mid: '0', kind: 'video', tid: 't1' }]) } });
    await settle();
    conn.send({ sub_offer: { sfu_id: 'sfu-1', sdp: offer([{ mid: '0', kind: 'video', tid: 't2' }]) } });
    await settle();
    assert.deepEqual(events.slice(-3), [
      ['ParticipantTrackSubscribed', 'alice', 't1'],
      ['ParticipantTrackUnsubscribed', 'alice', 't1'],
      ['ParticipantTrackSubscribed', 'alice', 't2'],
    ]);
  });

  test('media that arrives before its add_track is kept and subscribed once the track is known', async () => {
    world = await joinedSpace({ join: { participants: [participant('conn-a', { id: 'alice' })] } });
    const { conn, events } = world;
    conn.send({ sub_offer: { sfu_id: 'sfu-1', sdp: offer([{ mid: '0', kind: 'video', tid: 'late' }]) } });
    await settle();
    assert.deepEqual(events.of('ParticipantTrackSubscribed'), []);
    conn.send({ add_track: { connection_id: 'conn-a', track: wireTrack('late', 2, 'camera') } });
    await settle();
    assert.deepEqual(events.slice(-2), [
      ['ParticipantTrackPublished', 'alice', 'late'],
      ['ParticipantTrackSubscribed', 'alice', 'late'],
    ]);
  });

  test('mute and unmute of remote tracks; messages about oneself (track_muted, participant_connected, add_track) are ignored', async () => {
    world = await joinedSpace({ join: { participants: [participant('conn-a', { id: 'alice', tracks: [wireTrack('a-mic', 1, 'microphone')] })] } });
    const { conn, events, space } = world;
    const alice = [...space['participants'].values()][0];
    const mic = alice.audioTracks.get('a-mic');
    const trackEvents = [];
    mic.on(SDK.TrackEvent.Muted, () => trackEvents.push('Muted'));
    mic.on(SDK.TrackEvent.Unmuted, () => trackEvents.push('Unmuted'));
    const participantEvents = [];
    alice.on(SDK.ParticipantEvent.TrackMuted, (t) => participantEvents.push(['TrackMuted', t.tid]));
    conn.send({ track_muted: { connection_id: 'conn-a', track: { tid: 'a-mic' } } });
    conn.send({ track_unmuted: { connection_id: 'conn-a', track: { tid: 'a-mic' } } });
    conn.send({ track_muted: { connection_id: 'conn-me', track: { tid: 'mine' } } });
    conn.send({ track_muted: { connection_id: 'conn-nobody', track: { tid: 'x' } } });
    conn.send({ participant_connected: participant('conn-me', { id: 'me' }) });
    conn.send({ add_track: { connection_id: 'conn-me', track: wireTrack('mine', 1, 'microphone') } });
    await settle();
    assert.deepEqual(events.since(1), [
      ['ParticipantTrackMuted', 'alice', 'a-mic'],
      ['ParticipantTrackUnmuted', 'alice', 'a-mic'],
    ]);
    assert.deepEqual(trackEvents, ['Muted', 'Unmuted']);
    assert.deepEqual(participantEvents, [['TrackMuted', 'a-mic']]);
    assert.equal(mic.isMuted(), false);
  });

  test('display names and broadcast state of the others', async () => {
    world = await joinedSpace({ join: { broadcasting: true, participants: [participant('conn-a', { id: 'alice', name: 'Alice' })] } });
    const { conn, events, space } = world;
    assert.equal(space.broadcasting, true);
    assert.deepEqual(events.of('BroadcastStateChanged'), [['BroadcastStateChanged', true]]);
    conn.send({ participant_update: { connection_id: 'conn-a', display_name: 'Alice L.' } });
    conn.send({ broadcast_state_update: 2 });
    conn.send({ broadcast_state_update: 2 });
    conn.send({ broadcast_state_update: 0 });
    await settle();
    assert.deepEqual(events.slice(-2), [
      ['ParticipantDisplayNameChanged', 'alice'],
      ['BroadcastStateChanged', false],
    ]);
    assert.equal([...space['participants'].values()][0].displayName, 'Alice L.');
  });

  test('malformed and unknown frames are skipped, never thrown', async () => {
    world = await joinedSpace();
    const { conn, events } = world;
    const warn = mock.method(console, 'warn', () => {});
    conn.send('this is {not json');
    conn.send('[1,2]');
    conn.send({ nothing_we_know: 1 });
    conn.send({ add_track: { connection_id: 'conn-a' } });
    conn.send({ answer: '' });
    await settle();
    warn.mock.restore();
    assert.ok(warn.mock.callCount() >= 5);
    assert.equal(events.length, 0);
  });
});

describe('publishing', () => {
  test('publishTracks: ParticipantTrackPublished at once, then pending_track (with mid) per track before one offer; the answer is applied', async () => {
    world = await joinedSpace();
    const { conn, events, local, pcs } = world;
    const [mic, cam] = await localTracks('audio', 'video');
    const published = await local.publishTracks([mic, cam]);
    assert.deepEqual(published, [mic, cam]);
    assert.deepEqual(events.of('ParticipantTrackPublished'), [['ParticipantTrackPublished', 'me', mic.tid], ['ParticipantTrackPublished', 'me', cam.tid]]);
    await conn.waitFor((m) => m.offer, 'an offer');
    const sent = conn.received.filter((m) => m.pending_track || m.offer);
    assert.deepEqual(sent.map((m) => Object.keys(m)[0]), ['pending_track', 'pending_track', 'offer']);
    assert.deepEqual(sent[0].pending_track, { tid: mic.tid, type: 1, name: 'fake', muted: false, source: 'other', height: 0, width: 0, mid: '0' });
    assert.equal(sent[1].pending_track.mid, '1');
    assert.equal(sent[1].pending_track.width, 640);
    const pub = pcs[1];
    assert.deepEqual(pub.transceivers.map((t) => t.direction), ['sendonly', 'sendonly']);
    assert.deepEqual(pub.transceivers[0].sendEncodings, [{ maxBitrate: 64000 }]);
    assert.deepEqual(pub.transceivers[1].sendEncodings.map((e) => e.rid), ['q', 'h', 'f'], 'simulcast layers of joined');
    conn.send({ answer: 'answer' });
    await settle();
    assert.equal(pub.signalingState, 'stable');
    assert.equal(local.getTracks().length, 2);
  });

  test('one offer at a time: a change while an offer waits for its answer goes in the next offer', async () => {
    world = await joinedSpace();
    const { conn, local } = world;
    const [a] = await localTracks('audio');
    await local.publishTracks([a]);
    await conn.waitFor((m) => m.offer);
    const [b] = await localTracks('video');
    await local.publishTracks([b]);
    await settle();
    assert.equal(conn.messages('offer').length, 1, 'no second offer before the answer');
    conn.send({ answer: 'answer' });
    await settle();
    assert.equal(conn.messages('offer').length, 2);
    assert.equal(conn.messages('pending_track').at(-1).pending_track.tid, b.tid);
  });

  test('unpublish: the local event at once, the transceiver goes inactive in a new offer, no pending_track; mute sends mute_track', async () => {
    world = await joinedSpace();
    const { conn, local, events, pcs } = world;
    const [mic, cam] = await localTracks('audio', 'video');
    await local.publishTracks([mic, cam]);
    await conn.waitFor((m) => m.offer);
    conn.send({ answer: 'answer' });
    await settle();
    mic.mute();
    mic.mute(); // already muted: nothing more
    assert.equal(mic.track.enabled, false);
    mic.unMute();
    assert.deepEqual(conn.received.filter((m) => m.mute_track || m.unmute_track), [{ mute_track: mic.tid }, { unmute_track: mic.tid }]);
    assert.deepEqual(events.filter((e) => /Muted/.test(e[0])), [], 'no Space event about its own mute');

    local.unpublishTracks([cam]);
    assert.deepEqual(events.at(-1), ['ParticipantTrackUnpublished', 'me', cam.tid]);
    assert.equal(cam.track.readyState, 'ended', 'stopped by default');
    await settle();
    assert.equal(conn.messages('offer').length, 2);
    assert.equal(conn.messages('pending_track').length, 2, 'no pending_track for a removal');
    assert.equal(pcs[1].transceivers[1].direction, 'inactive');
    assert.deepEqual(local.getTracks(), [mic]);
  });

  test('limits: at most default_track_limit tracks per source; a track published twice is refused', async () => {
    world = await joinedSpace();
    const { local } = world;
    const tracks = await localTracks('video', 'video', 'video');
    await assert.rejects(local.publishTracks(tracks), (e) => e instanceof SDK.PublishTrackError && /more than 2 other tracks/.test(e.message));
    await local.publishTracks(tracks.slice(0, 2));
    await assert.rejects(local.publishTracks([tracks[0]]), /already published/);
    await assert.rejects(local.publishTracks([]), SDK.PublishTrackError);
  });

  test('a screen share whose capture ends unpublishes itself', async () => {
    world = await joinedSpace();
    const { local, events } = world;
    const video = new FakeTrack('video', { width: 1920, height: 1080 });
    globalThis.navigator = { mediaDevices: { getDisplayMedia: async () => ({ getTracks: () => [video] }) } };
    try {
      const [screen] = await SDK.getDisplayMedia();
      assert.equal(screen.source, SDK.TrackSource.Screenshare);
      await local.publishTracks([screen]);
      video.end();
      assert.deepEqual(events.at(-1), ['ParticipantTrackUnpublished', 'me', screen.tid]);
      assert.deepEqual(local.getTracks(), []);
    } finally {
      delete globalThis.navigator;
    }
  });

  test('ICE failure of the publisher: an ICE-restart offer (no pending_track)', async () => {
    world = await joinedSpace();
    const { conn, local, pcs } = world;
    const [mic] = await localTracks('audio');
    await local.publishTracks([mic]);
    await conn.waitFor((m) => m.offer);
    conn.send({ answer: 'answer' });
    await settle();
    pcs[1].setIceState('failed');
    await settle();
    assert.equal(conn.messages('offer').length, 2);
    assert.match(conn.messages('offer')[1].offer, /ice-restart/);
    assert.equal(conn.messages('pending_track').length, 1);
  });

  test('updateTracks swaps the media of the same source under the same tid, without renegotiation', async () => {
    world = await joinedSpace();
    const { conn, local, pcs, events } = world;
    const [cam] = await localTracks('video');
    await local.publishTracks([cam]);
    await conn.waitFor((m) => m.offer);
    conn.send({ answer: 'answer' });
    await settle();
    const [next] = await localTracks('video');
    const oldTid = cam.tid;
    assert.deepEqual(local.updateTracks([next]), [next]);
    assert.equal(next.tid, oldTid);
    assert.equal(pcs[1].transceivers[0].sender.track, next.track);
    assert.equal(cam.track.readyState, 'ended');
    await settle();
    assert.equal(conn.messages('offer').length, 1);
    assert.deepEqual(events.slice(-2).map((e) => e[0]), ['ParticipantTrackUnpublished', 'ParticipantTrackPublished']);
  });
});

describe('candidates', () => {
  test('per peer connection queues: candidates for two unknown sfu_ids and for the publisher before its answer all get applied', async () => {
    world = await joinedSpace();
    const { conn, local, pcs } = world;
    const cand = (n) => ({ candidate: `candidate:${n} 1 udp 1 127.0.0.1 ${n} typ host`, sdp_mline_index: 0, sdp_mid: '0', username_fragment: 'u' });
    conn.send({ candidate: { candidate: cand(1), type: 1, sfu_id: 'sfu-2' } });
    conn.send({ candidate: { candidate: cand(2), type: 1, sfu_id: 'sfu-3' } });
    const [mic] = await localTracks('audio');
    await local.publishTracks([mic]);
    await conn.waitFor((m) => m.offer);
    conn.send({ candidate: { candidate: cand(3), type: 2, sfu_id: 'sfu-1' } });
    conn.send({ sub_offer: { sfu_id: 'sfu-2', sdp: offer([]) } });
    conn.send({ sub_offer: { sfu_id: 'sfu-3', sdp: offer([]) } });
    await settle();
    conn.send({ answer: 'answer' });
    await settle();
    const bySfu = (id) => pcs.find((pc) => pc !== pcs[1] && conn.messages('sub_answer').length && pc.addedCandidates.length && pc.addedCandidates[0].candidate.includes(id));
    assert.equal(pcs.length, 4);
    assert.deepEqual(pcs[2].addedCandidates.map((c) => c.candidate.split(':')[1][0]), ['1']);
    assert.deepEqual(pcs[3].addedCandidates.map((c) => c.candidate.split(':')[1][0]), ['2']);
    assert.deepEqual(pcs[1].addedCandidates.map((c) => c.candidate.split(':')[1][0]), ['3']);
    assert.ok(bySfu);
  });

  test('local candidates go out with their PC type and sfu_id', async () => {
    world = await joinedSpace();
    const { conn, pcs } = world;
    pcs[0].emitCandidate({ candidate: 'candidate:a', sdpMLineIndex: 0, sdpMid: '0', usernameFragment: 'x' });
    pcs[1].emitCandidate({ candidate: 'candidate:b', sdpMLineIndex: 0, sdpMid: '0', usernameFragment: null });
    assert.deepEqual(conn.messages('candidate'), [
      { candidate: { candidate: { candidate: 'candidate:a', sdp_mline_index: 0, sdp_mid: '0', username_fragment: 'x' }, type: 1, sfu_id: 'sfu-1' } },
      { candidate: { candidate: { candidate: 'candidate:b', sdp_mline_index: 0, sdp_mid: '0', username_fragment: null }, type: 2, sfu_id: 'sfu-1' } },
    ]);
  });

  test('glare: two quick sub_offers for a new sfu_id make one PC and are answered in order', async () => {
    world = await joinedSpace();
    const { conn, pcs } = world;
    conn.send({ sub_offer: { sfu_id: 'sfu-9', sdp: offer([{ mid: '0', kind: 'audio', tid: 'x' }]) } });
    conn.send({ sub_offer: { sfu_id: 'sfu-9', sdp: offer([{ mid: '0', kind: 'audio', tid: 'x' }, { mid: '1', kind: 'video', tid: 'y' }]) } });
    await settle(10);
    assert.equal(pcs.length, 3);
    const answers = conn.messages('sub_answer').filter((m) => m.sub_answer.sfu_id === 'sfu-9');
    assert.equal(answers.length, 2);
    assert.equal(answers[1].sub_answer.sdp.split('\n').length, 3, 'the second answer has both m-sections');
  });
});

describe('custom events and display names', () => {
  test('the sender resolves with the event (and the wire fields); others get {payload, sequenceNumber, scope}', async () => {
    world = await joinedSpace({ join: { participants: [participant('conn-a', { id: 'alice' })] } });
    const { conn, local, events } = world;
    const mine = [];
    local.on(SDK.ParticipantEvent.CustomEventPublished, (e) => mine.push(e));
    const sending = local.publishCustomEvent('hello');
    const request = await conn.waitFor((m) => m.custom_event);
    assert.equal(request.request_id, request.custom_event.id);
    assert.deepEqual({ payload: request.custom_event.payload, scope: request.custom_event.scope }, { payload: 'hello', scope: 1 });
    conn.send({ custom_event: { ...request.custom_event, connection_id: 'conn-me', sequence_num: 7 }, request_id: request.request_id });
    const event = await sending;
    assert.equal(event.payload, 'hello');
    assert.equal(event.sequenceNumber, 7);
    assert.equal(event.scope, SDK.CustomEventScope.SESSION);
    assert.equal(event.connection_id, 'conn-me');
    assert.equal(event.sequence_num, 7);
    assert.equal(mine.length, 1);
    conn.send({ custom_event: { id: 'x', payload: 'hi', scope: 1, connection_id: 'conn-a', sequence_num: 8 } });
    await settle();
    const remote = events.of('ParticipantCustomEventPublished');
    assert.equal(remote.length, 2);
    assert.equal(remote[0][1], 'me');
    assert.deepEqual(remote[1], ['ParticipantCustomEventPublished', 'alice', { payload: 'hi', sequenceNumber: 8, scope: 1 }]);
  });

  test('refusals: over 4 KiB client-side; the server\'s error frame (correlator) rejects with PublishCustomEventError', async () => {
    world = await joinedSpace();
    const { conn, local } = world;
    await assert.rejects(local.publishCustomEvent('é'.repeat(2049)), (e) => e instanceof SDK.PublishCustomEventError && /4 kilobytes/.test(e.message));
    await assert.rejects(local.publishCustomEvent(42), SDK.PublishCustomEventError);
    const sending = local.publishCustomEvent('y'.repeat(4096));
    const request = await conn.waitFor((m) => m.custom_event);
    conn.send({ error: { type: 6, message: 'rate limited', visibility: 1, request_error: { correlator: `other,${request.request_id}` } } });
    await assert.rejects(sending, (e) => e instanceof SDK.PublishCustomEventError && e.message === 'rate limited' && e.code === 6);
  });

  test('client-side rate limit: a burst of custom_events_per_second, then refusals until the bucket refills', async () => {
    mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
    world = await joinedSpace();
    const { local } = world;
    const sent = [];
    for (let i = 0; i < 5; i++) sent.push(local.publishCustomEvent(`e${i}`).catch(() => {}));
    await assert.rejects(local.publishCustomEvent('too many'), /more than 5 custom events per second/);
    mock.timers.tick(200);
    local.publishCustomEvent('refilled').catch(() => {});
    await settle();
    assert.equal(world.conn.messages('custom_event').length, 6);
  });

  test('a request without answer times out after 30 s with RequestTimeoutError', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    world = await joinedSpace();
    const sending = world.local.publishCustomEvent('lost');
    await settle();
    mock.timers.tick(30_000);
    await assert.rejects(sending, (e) => e instanceof SDK.RequestTimeoutError && e.message === 'Unable to complete the request');
  });

  test('setDisplayName: resolves with the participant and emits ParticipantDisplayNameChanged(local); refused names reject; cooldown', async () => {
    world = await joinedSpace();
    const { conn, local, events } = world;
    const setting = local.setDisplayName('New Name');
    const request = await conn.waitFor((m) => m.set_display_name !== undefined);
    conn.send({ participant_update: { connection_id: 'conn-me', display_name: 'New Name' }, request_id: request.request_id });
    assert.equal(await setting, local);
    assert.equal(local.displayName, 'New Name');
    assert.deepEqual(events.at(-1), ['ParticipantDisplayNameChanged', 'me']);
    await assert.rejects(local.setDisplayName('Again'), (e) => e instanceof SDK.SetDisplayNameError && /every 10 seconds/.test(e.message));
    await assert.rejects(local.setDisplayName('x'.repeat(65)), SDK.SetDisplayNameError);
  });

  test('the server refusing a name (type 7) rejects with SetDisplayNameError and does not use up the cooldown', async () => {
    world = await joinedSpace();
    const { conn, local } = world;
    const setting = local.setDisplayName('');
    const request = await conn.waitFor((m) => m.set_display_name !== undefined);
    conn.send({ error: { type: 7, message: 'display name must not be empty', visibility: 1, request_error: { correlator: request.request_id } } });
    await assert.rejects(setting, (e) => e instanceof SDK.SetDisplayNameError && e.code === 7);
    const second = local.setDisplayName('Fine');
    const r2 = await conn.waitFor((m) => m.set_display_name === 'Fine');
    conn.send({ participant_update: { connection_id: 'conn-me', display_name: 'Fine' }, request_id: r2.request_id });
    await second;
  });
});

describe('active speakers', () => {
  test('ActiveSpeakersChanged when the list changes (local included), StartedSpeaking/StoppedSpeaking per participant', async () => {
    world = await joinedSpace({
      join: { participants: [participant('conn-a', { id: 'alice', tracks: [wireTrack('a-mic', 1, 'microphone')] }), participant('conn-b', { id: 'bob', tracks: [wireTrack('b-mic', 1, 'microphone')] })] },
    });
    const { conn, local, events, space } = world;
    const [mic] = await localTracks('audio');
    await local.publishTracks([mic]);
    const [alice, bob] = space['participants'].values();
    const said = [];
    for (const [name, p] of [['alice', alice], ['bob', bob], ['me', local]]) {
      p.on(SDK.ParticipantEvent.StartedSpeaking, () => said.push(`${name} started`));
      p.on(SDK.ParticipantEvent.StoppedSpeaking, () => said.push(`${name} stopped`));
    }
    const speakers = (...pairs) => conn.send({ active_speakers: { tracks: pairs.map(([c, t]) => ({ connection_id: c, track_id: t })) } });
    speakers(['conn-a', 'a-mic']);
    speakers(['conn-a', 'a-mic']); // unchanged: no event
    speakers(['conn-a', 'a-mic'], ['conn-me', mic.tid], ['conn-x', 'unknown']);
    speakers(['conn-b', 'b-mic']);
    speakers();
    await settle();
    assert.deepEqual(events.of('ActiveSpeakersChanged'), [
      ['ActiveSpeakersChanged', ['alice/a-mic']],
      ['ActiveSpeakersChanged', ['alice/a-mic', `me/${mic.tid}`]],
      ['ActiveSpeakersChanged', ['bob/b-mic']],
      ['ActiveSpeakersChanged', []],
    ]);
    assert.deepEqual(said, ['alice started', 'me started', 'bob started', 'alice stopped', 'me stopped', 'bob stopped']);
  });
});

describe('leave', () => {
  test('leave(): local tracks stopped and unpublished, ParticipantLeft for the others, socket and PCs closed, listeners removed', async () => {
    world = await joinedSpace({ join: { participants: [participant('conn-a', { id: 'alice', tracks: [wireTrack('a-cam', 2, 'camera')] })] } });
    const { conn, local, events, space, pcs } = world;
    const [cam] = await localTracks('video');
    await local.publishTracks([cam]);
    conn.send({ sub_offer: { sfu_id: 'sfu-1', sdp: offer([{ mid: '0', kind: 'video', tid: 'a-cam' }]) } });
    await settle();
    const mark = events.length;
    space.leave();
    assert.deepEqual(events.since(mark), [
      ['ParticipantTrackUnpublished', 'me', cam.tid],
      ['ParticipantTrackUnsubscribed', 'alice', 'a-cam'],
      ['ParticipantLeft', 'alice'],
    ]);
    assert.equal(cam.track.readyState, 'ended');
    assert.equal(space.localParticipant, undefined);
    assert.equal(conn.closedWith?.by, 'client');
    assert.ok(pcs.every((pc) => pc.closed));
    assert.equal(space.listenerCount(SDK.SpaceEvent.ParticipantJoined), 0);
    conn.send({ participant_connected: participant('conn-c') });
    await settle();
    assert.equal(events.length, mark + 3, 'nothing after leave()');
    await assert.rejects(space.join(), SDK.ConnectionError);
  });

  test('leave() while joining: join() rejects, the socket is closed', async () => {
    const fakes = installFakes();
    world = fakes;
    const space = new SDK.Space(jwt());
    const joining = space.join();
    const conn = await fakes.server.nextConnection();
    space.leave();
    await assert.rejects(joining, SDK.ConnectionError);
    assert.equal(conn.closedWith?.by, 'client');
  });
});

describe('listeners', () => {
  test('a throwing listener does not break the SDK: the others still run, the error surfaces asynchronously', async () => {
    world = await joinedSpace();
    const { conn, space } = world;
    const seen = [];
    space.once(SDK.SpaceEvent.ParticipantJoined, () => {
      throw new Error('app bug');
    });
    space.on(SDK.SpaceEvent.ParticipantJoined, (p) => seen.push(p.id));
    const deferred = [];
    const realSetTimeout = globalThis.setTimeout;
    globalThis.setTimeout = (fn, ms) => (ms === 0 ? deferred.push(fn) : realSetTimeout(fn, ms));
    try {
      conn.send({ participant_connected: participant('conn-a', { id: 'alice' }) });
    } finally {
      globalThis.setTimeout = realSetTimeout;
    }
    assert.deepEqual(seen, ['alice']);
    assert.equal(deferred.length, 1);
    assert.throws(deferred[0], /app bug/, 'rethrown on its own tick');
    space.once(SDK.SpaceEvent.ParticipantLeft, (p) => seen.push(`left ${p.id}`));
    conn.send({ participant_disconnected: { connection_id: 'conn-a' } });
    conn.send({ participant_connected: participant('conn-b', { id: 'bob' }) });
    conn.send({ participant_disconnected: { connection_id: 'conn-b' } });
    await settle();
    assert.deepEqual(seen, ['alice', 'left alice', 'bob']);
  });
});

test('FakePeerConnection bookkeeping is reset per world', () => {
  assert.ok(Array.isArray(FakePeerConnection.all));
});
