// Media through oriel with the unmodified @mux/spaces-web@1.2.0: publishing, subscribing and
// decoding real frames in Chromium.
//
// These need the SFU, which oriel does not have yet: today every `joined` carries `sub_sfus: []`,
// so a publisher-role join() rejects inside the SDK with
// `TypeError: Cannot read properties of undefined (reading 'sfu_id')` (setupSfu).
// They are todo stubs by default. The bodies below are written against the harness and the
// documented SDK behaviour; run them with E2E_MEDIA=1 (tests/e2e/run.sh tests/e2e/media.test.mjs)
// once the SFU lands, and drop the gate when they pass.

import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { useE2E, eventually } from './lib/fixture.mjs';

const RUN_MEDIA = process.env.E2E_MEDIA === '1';
const PUBLISHER = 1; // MuxSpaces.ParticipantRole.Publisher
const AUDIO = 1; // MuxSpaces.TrackKind
const VIDEO = 2;

const e2e = useE2E({ enabled: RUN_MEDIA });

let counter = 0;
const pid = (name) => `${name}-${process.pid}-${++counter}`;

/** A test that needs media: a todo stub unless E2E_MEDIA=1, then a real test that must pass. */
function mediaTest(name, reason, fn) {
  if (!RUN_MEDIA || !fn) return e2e.test(name, { todo: reason });
  return e2e.test(name, fn);
}

async function publisherJoins(name, spaceId, options) {
  const p = await e2e.participant(name);
  const id = pid(name);
  const joined = await p.join(e2e.env.sign(spaceId, { participantId: id }), options);
  assert.equal(joined.ok, true, `${name}: join() rejected: ${JSON.stringify(joined.error)}`);
  return { p, id, joined };
}

async function subscriberJoins(name, spaceId) {
  const p = await e2e.participant(name);
  const id = pid(name);
  const joined = await p.join(e2e.env.sign(spaceId, { participantId: id, role: 'subscriber' }));
  assert.equal(joined.ok, true, `${name}: join() rejected: ${JSON.stringify(joined.error)}`);
  return { p, id, joined };
}

describe('media', () => {
  mediaTest(
    'a publisher-role token joins (joined carries a sub_sfus offer and simulcast)',
    'needs the SFU: oriel sends sub_sfus: [] to publishers, and the SDK then rejects join() with a TypeError',
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

  mediaTest(
    'camera and microphone of a publisher reach a subscriber joined before, and its video frames decode',
    'needs the SFU: publishing (offer/answer, pending_track, add_track) and subscribing (sub_offer) are not implemented',
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

  mediaTest(
    'a subscriber joining after the camera was published gets it from the joined list and decodes frames',
    'needs the SFU: tracks in joined.participants[].tracks and a sub_sfus offer carrying them',
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

  mediaTest(
    'two publishers see each other\'s camera (each decodes the other\'s frames)',
    'needs the SFU and live participant_connected/add_track to an already-joined publisher',
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

  mediaTest('unpublishing a track: the subscriber gets ParticipantTrackUnsubscribed, then ParticipantTrackUnpublished',
    'needs the SFU: an a=inactive m-section in a publisher re-offer means unpublish; renegotiate the subscriber to inactive');
  mediaTest('mute/unmute of a published track: ParticipantTrackMuted/Unmuted at the subscriber, never at the muter',
    'needs the SFU (mute_track/unmute_track → track_muted/track_unmuted)');
  mediaTest('a publisher leaving: ParticipantTrackUnsubscribed + ParticipantLeft at the subscriber; the space goes idle after the last one',
    'needs participant_disconnected and the SFU');
  mediaTest('custom events: publishCustomEvent reaches the others as ParticipantCustomEventPublished with a sequence number',
    'needs custom_event relay with request_id echo');
  mediaTest('setDisplayName: ParticipantDisplayNameChanged at the others',
    'needs set_display_name → participant_update');
  mediaTest('active speakers: the microphone publisher shows up in ActiveSpeakersChanged',
    'needs audio level detection and active_speakers');
  mediaTest('server-side drop (non-4000 close): LocalParticipantReconnecting then LocalParticipantReconnected, tracks republished, media resumes',
    'needs reconnect_id handling and the SFU');
});
