// Media through oriel with the unmodified @mux/spaces-web@1.2.0: publishing, subscribing and
// decoding real frames in Chromium (fake camera and microphone), unpublishing, muting, and a
// publisher leaving.

import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { useE2E, eventually, sleep, pid } from './lib/fixture.mjs';

const PUBLISHER = 1; // MuxSpaces.ParticipantRole.Publisher
const AUDIO = 1; // MuxSpaces.TrackKind
const VIDEO = 2;

const e2e = useE2E();

const publisherJoins = (name, spaceId, options) => e2e.joined(name, spaceId, { options });
const subscriberJoins = (name, spaceId, options) => e2e.joined(name, spaceId, { role: 'subscriber', options });

/** Index of the first event named `name` matching `predicate` in `events`, or -1. */
const indexOf = (events, name, predicate = () => true) => events.findIndex((e) => e.name === name && predicate(e));

describe('media', () => {
  e2e.test(
    'a publisher-role token joins (joined carries a sub_sfus offer and simulcast)',
    async () => {
      const space = await e2e.env.createSpace();
      const { p, id, joined } = await publisherJoins('pub', space.id);
      assert.equal(joined.localParticipant.id, id);
      assert.equal(joined.localParticipant.role, PUBLISHER);
      // One subscriber PC per sub_sfus entry plus the publisher PC; none may use a public STUN server.
      const pcs = await p.peerConnections();
      assert.ok(pcs.length >= 2, `peer connections: ${JSON.stringify(pcs)}`);
      for (const pc of pcs) {
        for (const server of pc.iceServers || []) {
          for (const url of [].concat(server.urls)) assert.doesNotMatch(url, /google\.com/, 'no fallback STUN server');
        }
      }
      assert.deepEqual(p.externalRequests, []);
      assert.deepEqual(p.pageErrors, []);
    },
  );

  e2e.test(
    'camera and microphone of a publisher reach a subscriber joined before, and its video frames decode',
    async () => {
      const space = await e2e.env.createSpace();
      const sub = await subscriberJoins('viewer', space.id);
      const pub = await publisherJoins('camera', space.id);

      await sub.p.waitForEvent('ParticipantJoined', (e) => e.args[0].id === pub.id, 5000);
      const cam = await pub.p.publishCamera();
      assert.equal(cam.ok, true, `publishCamera: ${JSON.stringify(cam.error)}`);
      const mic = await pub.p.publishMic();
      assert.equal(mic.ok, true, `publishMic: ${JSON.stringify(mic.error)}`);
      const camTid = cam.tracks[0].tid;
      const micTid = mic.tracks[0].tid;

      for (const [tid, kind, source] of [[camTid, VIDEO, 'camera'], [micTid, AUDIO, 'microphone']]) {
        const published = await sub.p.waitForEvent(
          'ParticipantTrackPublished',
          (e) => e.args[0].id === pub.id && e.args[1].tid === tid,
          10_000,
        );
        assert.equal(published.args[1].trackKind, kind);
        assert.equal(published.args[1].source, source);
        const subscribed = await sub.p.waitForEvent(
          'ParticipantTrackSubscribed',
          (e) => e.args[0].id === pub.id && e.args[1].tid === tid,
          10_000,
        );
        assert.equal(subscribed.args[1].hasMedia, true);
      }

      const frames = await sub.p.waitForFrames(pub.id, 30, 15_000);
      assert.ok(frames.tracks[0].frameWidth > 0, JSON.stringify(frames));
      const audio = await eventually(
        () => sub.p.inboundStats(),
        (stats) => stats.some((s) => s.kind === 'audio' && s.packetsReceived > 20),
        { timeoutMs: 10_000, what: 'audio packets at the subscriber' },
      );
      assert.ok(audio.value.length >= 2);
      assert.deepEqual([...sub.p.pageErrors, ...pub.p.pageErrors], []);
    },
  );

  e2e.test(
    'a subscriber joining after the camera was published gets it from the joined list and decodes frames',
    async () => {
      const space = await e2e.env.createSpace();
      const pub = await publisherJoins('early', space.id);
      const cam = await pub.p.publishCamera();
      assert.equal(cam.ok, true, `publishCamera: ${JSON.stringify(cam.error)}`);
      const late = await subscriberJoins('late', space.id);
      const joinedEvent = await late.p.waitForEvent('ParticipantJoined', (e) => e.args[0].id === pub.id, 2000);
      assert.deepEqual(joinedEvent.args[0].tracks.map((t) => t.tid), [cam.tracks[0].tid]);
      await late.p.waitForEvent('ParticipantTrackSubscribed', (e) => e.args[1].tid === cam.tracks[0].tid, 10_000);
      await late.p.waitForFrames(pub.id, 30, 15_000);
    },
  );

  e2e.test(
    'two publishers see each other\'s camera (each decodes the other\'s frames)',
    async () => {
      const space = await e2e.env.createSpace();
      const a = await publisherJoins('a', space.id);
      const b = await publisherJoins('b', space.id);
      assert.equal((await a.p.publishCamera()).ok, true);
      assert.equal((await b.p.publishCamera()).ok, true);
      await a.p.waitForEvent('ParticipantJoined', (e) => e.args[0].id === b.id, 5000);
      await a.p.waitForFrames(b.id, 30, 15_000);
      await b.p.waitForFrames(a.id, 30, 15_000);
    },
  );

  /** Sum of packetsReceived over the inbound audio streams of a page. */
  const audioPackets = async (p) => (await p.inboundStats()).filter((s) => s.kind === 'audio').reduce((n, s) => n + (s.packetsReceived || 0), 0);

  /** Publishes camera+mic on `pub` in one offer; returns {camTid, micTid}. */
  async function publishBoth(pub) {
    const both = await pub.p.publishCameraAndMic();
    assert.equal(both.ok, true, `publishCameraAndMic: ${JSON.stringify(both.error)}`);
    const camTid = both.tracks.find((t) => t.trackKind === VIDEO).tid;
    const micTid = both.tracks.find((t) => t.trackKind === AUDIO).tid;
    return { camTid, micTid };
  }

  /** Waits until `viewer` has media for both tracks of `pub` and decodes its video. */
  async function receiving(viewer, pub, { camTid, micTid }) {
    for (const tid of [camTid, micTid]) {
      await viewer.p.waitForEvent('ParticipantTrackSubscribed', (e) => e.args[0].id === pub.id && e.args[1].tid === tid, 10_000);
    }
    await viewer.p.waitForFrames(pub.id, 10, 15_000);
  }

  const lastSeq = async (p) => (await p.events()).at(-1)?.seq ?? 0;

  e2e.test('unpublishing a track: the subscriber gets ParticipantTrackUnsubscribed, then ParticipantTrackUnpublished; the other track keeps flowing', async () => {
    const space = await e2e.env.createSpace();
    const sub = await subscriberJoins('viewer', space.id);
    const pub = await publisherJoins('pub', space.id);
    const tids = await publishBoth(pub);
    const { camTid, micTid } = tids;
    await receiving(sub, pub, tids);

    const mark = await lastSeq(sub.p);
    const done = await pub.p.unpublish([camTid]);
    assert.equal(done.ok, true, JSON.stringify(done));
    // The publisher's own event is local and immediate.
    await pub.p.waitForEvent('ParticipantTrackUnpublished', (e) => e.args[0].local === true && e.args[1].tid === camTid, 2000);

    await sub.p.waitForEvent('ParticipantTrackUnpublished', (e) => e.args[0].id === pub.id && e.args[1].tid === camTid, 10_000);
    const events = await sub.p.events(mark);
    const about = (tid) => (e) => e.args[1]?.tid === tid;
    const unsub = indexOf(events, 'ParticipantTrackUnsubscribed', about(camTid));
    const unpub = indexOf(events, 'ParticipantTrackUnpublished', about(camTid));
    assert.ok(unsub >= 0, `no ParticipantTrackUnsubscribed for the camera: ${JSON.stringify(events.map((e) => e.name))}`);
    assert.ok(unsub < unpub, `ParticipantTrackUnsubscribed (#${unsub}) must come before ParticipantTrackUnpublished (#${unpub})`);
    assert.equal(events.filter((e) => e.name === 'ParticipantTrackUnsubscribed').length, 1, 'only the camera was unsubscribed');
    assert.equal(events.filter((e) => e.name === 'ParticipantTrackUnpublished').length, 1, 'only the camera was unpublished');
    assert.deepEqual(events.filter(about(micTid)), [], 'nothing happened to the microphone');
    assert.deepEqual(events.filter((e) => e.name === 'ParticipantLeft'), [], 'the publisher is still in');
    // On the wire: remove_track about the camera.
    const removed = await sub.p.received('remove_track');
    assert.deepEqual(removed.map((m) => m.value.track.tid), [camTid]);
    assert.equal(removed[0].value.connection_id, pub.joined.localParticipant.connectionId);

    // The remote participant keeps only its microphone, whose audio keeps arriving.
    const remote = (await sub.p.remoteParticipants()).find((r) => r.id === pub.id);
    assert.deepEqual(remote.tracks.map((t) => t.tid), [micTid]);
    const before = await audioPackets(sub.p);
    await eventually(() => audioPackets(sub.p), (n) => n > before + 20, { timeoutMs: 5000, what: 'audio still flowing after the camera was unpublished' });

    // The server forgot the camera: a newcomer's joined list has the microphone only.
    const raw = await e2e.raw(e2e.env.sign(space.id, { participantId: pid('late-raw'), role: 'subscriber' }));
    const listed = raw.joined.participants.find((x) => x.participant_id === pub.id);
    assert.deepEqual(listed.tracks.map((t) => t.tid), [micTid]);
    assert.deepEqual([...sub.p.pageErrors, ...pub.p.pageErrors], []);
  });

  e2e.test('mute/unmute: the others get ParticipantTrackMuted/Unmuted with the right track; the muter gets nothing about itself', async () => {
    const space = await e2e.env.createSpace();
    const sub = await subscriberJoins('viewer', space.id);
    const other = await publisherJoins('other', space.id);
    const pub = await publisherJoins('muter', space.id);
    const tids = await publishBoth(pub);
    const { camTid, micTid } = tids;
    await receiving(sub, pub, tids);
    await receiving(other, pub, tids);
    const marks = { sub: await lastSeq(sub.p), other: await lastSeq(other.p) };

    const steps = [
      ['mute', micTid, 'ParticipantTrackMuted', true],
      ['mute', camTid, 'ParticipantTrackMuted', true],
      ['unmute', micTid, 'ParticipantTrackUnmuted', false],
    ];
    for (const [action, tid, eventName, muted] of steps) {
      const r = await pub.p[action](tid);
      assert.equal(r.ok, true, JSON.stringify(r));
      assert.equal(r.muted, muted);
      for (const [name, viewer] of [['sub', sub], ['other', other]]) {
        const hit = await viewer.p.waitForEvent(eventName, (e) => e.seq > marks[name] && e.args[1].tid === tid, 5000);
        assert.equal(hit.args[0].id, pub.id, `${eventName} names the muter`);
        assert.equal(hit.args[1].muted, muted, `the track's muted flag after ${eventName}`);
        marks[name] = hit.seq;
      }
    }
    for (const viewer of [sub, other]) {
      const seen = (await viewer.p.events())
        .filter((e) => e.name === 'ParticipantTrackMuted' || e.name === 'ParticipantTrackUnmuted')
        .map((e) => [e.name, e.args[1].tid]);
      assert.deepEqual(seen, [
        ['ParticipantTrackMuted', micTid],
        ['ParticipantTrackMuted', camTid],
        ['ParticipantTrackUnmuted', micTid],
      ]);
      const remote = (await viewer.p.remoteParticipants()).find((r) => r.id === pub.id);
      assert.deepEqual(Object.fromEntries(remote.tracks.map((t) => [t.tid, t.muted])), { [camTid]: true, [micTid]: false });
    }

    // The muter sent mute_track/unmute_track and got no track_muted/track_unmuted back.
    await sleep(300);
    const sent = (await pub.p.signalFrames()).filter((f) => f.dir === 'out' && (f.data.mute_track || f.data.unmute_track));
    assert.deepEqual(sent.map((f) => f.data), [{ mute_track: micTid }, { mute_track: camTid }, { unmute_track: micTid }]);
    assert.deepEqual([...(await pub.p.received('track_muted')), ...(await pub.p.received('track_unmuted'))], []);
    const own = (await pub.p.events()).filter((e) => /Muted|Unmuted/.test(e.name));
    assert.deepEqual(own, [], 'no Space event about its own mute');
    assert.deepEqual([...sub.p.pageErrors, ...other.p.pageErrors, ...pub.p.pageErrors], []);

    // The server keeps the state: a newcomer sees the camera muted, the microphone not.
    const raw = await e2e.raw(e2e.env.sign(space.id, { participantId: pid('late-raw'), role: 'subscriber' }));
    const listed = raw.joined.participants.find((x) => x.participant_id === pub.id);
    assert.deepEqual(Object.fromEntries(listed.tracks.map((t) => [t.tid, t.muted])), { [camTid]: true, [micTid]: false });
  });

  e2e.test('a publisher leaving: ParticipantTrackUnsubscribed + ParticipantLeft at the subscriber; REST shows the space idle after the last one', async () => {
    const space = await e2e.env.createSpace();
    const sub = await subscriberJoins('viewer', space.id);
    const pub = await publisherJoins('leaver', space.id);
    const tids = await publishBoth(pub);
    const { camTid, micTid } = tids;
    await receiving(sub, pub, tids);
    const active = await e2e.spaceStatus(space.id);
    assert.equal(active.status, 'active');
    assert.equal(active.active_session_id, sub.joined.sessionId);

    const mark = await lastSeq(sub.p);
    await pub.p.leave();
    await sub.p.waitForEvent('ParticipantLeft', (e) => e.args[0].id === pub.id, 5000);
    const events = await sub.p.events(mark);
    const left = indexOf(events, 'ParticipantLeft', (e) => e.args[0].id === pub.id);
    for (const tid of [camTid, micTid]) {
      const unsub = indexOf(events, 'ParticipantTrackUnsubscribed', (e) => e.args[0].id === pub.id && e.args[1].tid === tid);
      assert.ok(unsub >= 0 && unsub < left, `ParticipantTrackUnsubscribed(${tid}) before ParticipantLeft: ${JSON.stringify(events.map((e) => e.name))}`);
    }
    assert.equal(events[left].args[0].connectionId, pub.joined.localParticipant.connectionId);
    assert.deepEqual(await sub.p.remoteParticipants(), []);
    const wire = await sub.p.received('participant_disconnected');
    assert.deepEqual(wire.map((m) => m.value), [{ connection_id: pub.joined.localParticipant.connectionId }]);

    // The subscriber is still in: active, same session.
    const still = await e2e.spaceStatus(space.id);
    assert.deepEqual(still, active);
    assert.deepEqual([...sub.p.pageErrors, ...pub.p.pageErrors], []);

    // The last one closes its tab (no leave()): the space turns idle.
    await sub.p.close();
    const { ms } = await eventually(() => e2e.spaceStatus(space.id), (s) => s.status === 'idle', { timeoutMs: 5000, what: 'idle after the last one left' });
    const idle = await e2e.spaceStatus(space.id);
    assert.ok(!idle.active_session_id, `no active_session_id once idle: ${JSON.stringify(idle)} (after ${ms} ms)`);
  });
});
