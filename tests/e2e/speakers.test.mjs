// Active speakers with the unmodified @mux/spaces-web@1.2.0: oriel reads the RFC 6464 audio level
// of each microphone and sends `active_speakers`; the SDK emits ActiveSpeakersChanged.
//
// Chromium's default fake microphone is a 20 ms beep every 500 ms: smoothed over 300 ms as the
// detector does, it stays near -63 dBov, below the -50 dBov threshold, and rightly does not
// count as speech. So this file's browser plays a speech-like WAV as the microphone
// (`--use-file-for-fake-audio-capture`).

import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { after, describe } from 'node:test';
import { useE2E, eventually, sleep } from './lib/fixture.mjs';
import { writeVoiceWav } from './lib/wav.mjs';

const voice = writeVoiceWav(path.join(os.tmpdir(), `oriel-e2e-voice-${process.pid}.wav`));
after(() => fs.rmSync(voice, { force: true }));

const e2e = useE2E({ browserArgs: [`--use-file-for-fake-audio-capture=${voice}`] });

/** Polls until `p` has an ActiveSpeakersChanged naming `participantId`, or `timeoutMs` passed. */
async function speakerEvent(p, participantId, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hit = (await p.events()).find((e) => e.name === 'ActiveSpeakersChanged' && e.args[0].some((s) => s.participant?.id === participantId));
    if (hit || Date.now() > deadline) return hit;
    await sleep(200);
  }
}

describe('active speakers', () => {
  e2e.test('a publisher speaking into its microphone shows up in ActiveSpeakersChanged at a subscriber (that participant, its audio track); a muted one never does', async (t) => {
    const space = await e2e.env.createSpace();
    const sub = await e2e.joined('listener', space.id, { role: 'subscriber' });
    const speaker = await e2e.joined('speaker', space.id);
    const quiet = await e2e.joined('muted', space.id);
    const mic = await speaker.p.publishMic();
    assert.equal(mic.ok, true, JSON.stringify(mic.error));
    const micTid = mic.tracks[0].tid;
    const quietMic = await quiet.p.publishMic();
    assert.equal(quietMic.ok, true, JSON.stringify(quietMic.error));
    const quietTid = quietMic.tracks[0].tid;
    assert.equal((await quiet.p.mute(quietTid)).ok, true); // sends silence from now on

    const hit = await speakerEvent(sub.p, speaker.id, 10_000);
    const levels = await speaker.p.micLevels(micTid, 1000);
    t.diagnostic(`speaker's microphone: min 20 ms level -${levels.minLevel} dBov, smoothed tail (−dBov) ${levels.smoothedTail}`);
    assert.ok(hit, `no ActiveSpeakersChanged naming the speaker within 10 s; its levels: ${JSON.stringify(levels)}; active_speakers frames: ${JSON.stringify(await sub.p.received('active_speakers'))}`);
    const entry = hit.args[0].find((s) => s.participant.id === speaker.id);
    assert.equal(entry.participant.connectionId, speaker.joined.localParticipant.connectionId);
    assert.equal(entry.track.tid, micTid, 'the speaker\'s track is its microphone');
    assert.equal(entry.track.trackKind, 1);
    const wire = (await sub.p.received('active_speakers')).find((m) => m.value.tracks.some((x) => x.track_id === micTid));
    assert.equal(wire.value.tracks.find((x) => x.track_id === micTid).connection_id, speaker.joined.localParticipant.connectionId);

    // The speaker's audio decodes at the subscriber as sound, not silence.
    await eventually(
      () => sub.p.audioLevels(),
      (ls) => ls.some((l) => l.type === 'inbound-rtp' && l.totalAudioEnergy > 0.01),
      { timeoutMs: 5000, what: 'audio energy in what the subscriber plays' },
    );
    // The others see the speaker too (the muted publisher does, the speaker sees itself listed).
    await speakerEvent(quiet.p, speaker.id, 3000).then((e) => assert.ok(e, 'the muted publisher sees the speaker'));

    // Over all of this, the muted publisher was never named.
    await sleep(1000);
    for (const x of [sub, quiet, speaker]) {
      const named = (await x.p.received('active_speakers')).filter((m) => m.value.tracks.some((s) => s.track_id === quietTid));
      assert.deepEqual(named, [], `${x.id}: the muted microphone was announced as a speaker`);
    }
    assert.deepEqual([...sub.p.pageErrors, ...speaker.p.pageErrors, ...quiet.p.pageErrors], []);

    // The speaker leaves mid-speech: the others hear of it once, and nothing after names it.
    assert.equal((await speaker.p.leave()).ok, true);
    await sub.p.waitForEvent('ParticipantLeft', (e) => e.args[0]?.id === speaker.id, 5000);
    await sleep(1500);
    for (const x of [sub, quiet]) {
      const stale = x.p.consoleLog.filter((l) => /Participant not found for active speakers event/.test(l));
      const order = (await x.p.signalFrames()).filter((f) => f.dir === 'in' && f.data && (f.data.active_speakers || f.data.participant_disconnected || f.data.remove_track)).slice(-6).map((f) => JSON.stringify(f.data));
      assert.deepEqual(stale, [], `${x.id}: an active_speakers named the departed speaker; last frames: ${order.join(' | ')}`);
    }
  });
});
