// Screen sharing with Oriel's SDK in real Chromium (its fake screen capture): getDisplayMedia
// gives a `screenshare` track; viewers on both SDKs get it as a screenshare and decode it; when
// the capture ends, the SDK unpublishes it by itself.

import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { useSdkE2E, eventually, inSpace } from '../lib/fixture.mjs';

const e2e = useSdkE2E();

/** Frames decoded of one remote track (by tid) in a page, whichever SDK it runs. */
function framesOf(p, tid) {
  return inSpace(
    p,
    async (space, tid) => {
      let media;
      for (const participant of space.participants.values()) {
        const track = participant.videoTracks.get(tid);
        if (track && track.track) media = track.track;
      }
      if (!media) return 0;
      let frames = 0;
      for (const { pc } of window.__orielPeerConnections) {
        const report = await pc.getStats().catch(() => null);
        report?.forEach((s) => {
          if (s.type === 'inbound-rtp' && s.trackIdentifier === media.id) frames += s.framesDecoded || 0;
        });
      }
      return frames;
    },
    tid,
  );
}

describe('screen sharing', () => {
  e2e.test('getDisplayMedia → publishTracks: both SDKs receive a screenshare track and decode it; the capture ending unpublishes it', async (t) => {
    const space = await e2e.env.createSpace();
    const presenter = await e2e.joined('presenter', space.id, { sdk: 'oriel', options: { displayName: 'Presenter' } });
    const viewers = [
      await e2e.joined('viewer-oriel', space.id, { sdk: 'oriel', role: 'subscriber' }),
      await e2e.joined('viewer-mux', space.id, { sdk: 'mux', role: 'subscriber' }),
    ];
    const cam = await presenter.p.publishCamera();
    assert.equal(cam.ok, true, JSON.stringify(cam.error));
    const camTid = cam.tracks[0].tid;

    const shared = await inSpace(presenter.p, async (space) => {
      const tracks = await window.OrielSpaces.getDisplayMedia();
      await space.localParticipant.publishTracks(tracks);
      window.__screen = tracks;
      return tracks.map((x) => ({ tid: x.tid, source: x.source, kind: x.kind, width: x.width, height: x.height }));
    });
    assert.equal(shared.length, 1, 'video only by default');
    const [screen] = shared;
    assert.equal(screen.source, 'screenshare');
    assert.equal(screen.kind, 2);
    assert.ok(screen.width > 0 && screen.width <= 2560 && screen.height <= 1440, JSON.stringify(screen));
    const { value: pending } = await eventually(
      async () => (await presenter.p.signalFrames()).find((f) => f.dir === 'out' && f.data.pending_track?.tid === screen.tid),
      (f) => !!f,
      { what: 'the pending_track of the screen' },
    );
    assert.equal(pending.data.pending_track.source, 'screenshare');

    for (const v of viewers) {
      const published = await v.p.waitForEvent('ParticipantTrackPublished', (e) => e.args[1].tid === screen.tid, 10_000);
      assert.equal(published.args[1].source, 'screenshare', `${v.sdk}: the source`);
      await v.p.waitForEvent('ParticipantTrackSubscribed', (e) => e.args[1].tid === screen.tid, 10_000);
      const { ms } = await eventually(() => framesOf(v.p, screen.tid), (n) => n >= 10, { timeoutMs: 15_000, intervalMs: 200, what: `${v.sdk} decoding the screen` });
      t.diagnostic(`${v.sdk} viewer: 10 screen frames decoded ${ms} ms after the subscription`);
    }

    // The user stops sharing (the browser ends the capture track).
    const marks = await Promise.all(viewers.map(async (v) => (await v.p.events()).at(-1).seq));
    await presenter.p.page.evaluate(() => window.__screen[0].track.dispatchEvent(new Event('ended')));
    await presenter.p.waitForEvent('ParticipantTrackUnpublished', (e) => e.args[0].local && e.args[1].tid === screen.tid, 3000);
    const local = await presenter.p.localParticipant();
    assert.deepEqual(local.tracks.map((x) => x.tid), [camTid], 'only the camera is left');
    for (const [i, v] of viewers.entries()) {
      await v.p.waitForEvent('ParticipantTrackUnpublished', (e) => e.seq > marks[i] && e.args[1].tid === screen.tid, 10_000);
      const names = (await v.p.events(marks[i])).filter((e) => e.args[1]?.tid === screen.tid).map((e) => e.name);
      assert.deepEqual(names, ['ParticipantTrackUnsubscribed', 'ParticipantTrackUnpublished'], `${v.sdk}`);
      await v.p.waitForFrames(presenter.id, 5, 10_000); // the camera goes on
    }
    for (const x of [presenter, ...viewers]) assert.deepEqual(x.p.pageErrors, []);
  });
});
