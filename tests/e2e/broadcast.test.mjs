// Broadcasts end to end: publishers on the unmodified @mux/spaces-web 1.2.0 in Chromium,
// @mux/mux-node 7.3.5 creating a live stream (with a simulcast target on a private nginx-rtmp)
// and a broadcast and starting it; the compositor (GStreamer, its own process) joins hidden and
// composes the space; the HLS output (ffprobe, hls.js in Chromium decoding frames, tiles counted
// in a decoded frame) and the RTMP output (ffprobe on what nginx-rtmp recorded); stop and the
// space going idle each end the broadcast and complete the live stream.

import assert from 'node:assert/strict';
import Mux from '@mux/mux-node';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe } from 'node:test';
import { promisify } from 'node:util';
import { startNginxRtmp } from '../lib/nginx-rtmp.mjs';
import { eventually, sleep, useE2E } from './lib/fixture.mjs';

const run = promisify(execFile);
const e2e = useE2E({ environment: 'broadcast' });
const HLS_JS = path.join(path.dirname(new URL(import.meta.url).pathname), 'node_modules', 'hls.js', 'dist', 'hls.min.js');

let rtmp;
before(async () => {
  rtmp = await startNginxRtmp();
});
after(async () => {
  await rtmp?.stop();
  rtmp?.cleanup();
});

/** ffprobe's streams of a file or URL: [{codec_name, codec_type, width, height}]. */
async function probe(input) {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,codec_type,width,height', '-of', 'json', input], { timeout: 20_000 });
  return JSON.parse(stdout).streams;
}

function assertH264Aac(streams, width, height, what) {
  const video = streams.find((s) => s.codec_type === 'video');
  const audio = streams.find((s) => s.codec_type === 'audio');
  assert.equal(video?.codec_name, 'h264', `${what}: ${JSON.stringify(streams)}`);
  assert.equal(video.width, width, `${what} width`);
  assert.equal(video.height, height, `${what} height`);
  assert.equal(audio?.codec_name, 'aac', `${what}: ${JSON.stringify(streams)}`);
}

/** The playlist of a playback id and its newest segment's URL. */
async function newestSegment(playlistUrl) {
  const res = await fetch(playlistUrl);
  if (res.status !== 200) return null;
  const text = await res.text();
  const segments = text.split('\n').filter((l) => l && !l.startsWith('#'));
  return segments.length ? { text, url: new URL(segments.at(-1), playlistUrl).href, count: segments.length } : null;
}

/**
 * In a participant page: every video transceiver the SDK adds from now on offers only H.264, and
 * each peer connection is kept in `window.__pcs` for `sentVideoCodecs`.
 */
function preferH264() {
  window.__pcs = window.__pcs || [];
  const prefer = (pc, transceiver) => {
    if (!window.__pcs.includes(pc)) window.__pcs.push(pc);
    if (transceiver.sender.track?.kind !== 'video' && transceiver.receiver.track?.kind !== 'video') return;
    // H.264 only (with its retransmissions), as a browser without VP8 would offer: the SFU
    // answers VP8 first whenever it is offered.
    const codecs = RTCRtpSender.getCapabilities('video').codecs;
    transceiver.setCodecPreferences(codecs.filter((c) => c.mimeType === 'video/H264' || c.mimeType === 'video/rtx'));
  };
  const { addTransceiver, addTrack } = RTCPeerConnection.prototype;
  RTCPeerConnection.prototype.addTransceiver = function (...args) {
    const transceiver = addTransceiver.apply(this, args);
    prefer(this, transceiver);
    return transceiver;
  };
  RTCPeerConnection.prototype.addTrack = function (...args) {
    const sender = addTrack.apply(this, args);
    const transceiver = this.getTransceivers().find((t) => t.sender === sender);
    if (transceiver) prefer(this, transceiver);
    return sender;
  };
}

/** In a participant page prepared by `preferH264`: the codecs its outbound video uses. */
async function sentVideoCodecs() {
  const mimes = [];
  for (const pc of window.__pcs || []) {
    const stats = await pc.getStats();
    stats.forEach((r) => {
      if (r.type === 'outbound-rtp' && r.kind === 'video' && r.codecId && (r.framesEncoded || 0) > 0) mimes.push(stats.get(r.codecId)?.mimeType);
    });
  }
  return mimes;
}

/**
 * Tiles in the middle row of a frame of `segmentUrl`: runs of non-dark columns along the
 * horizontal center line of a 160-pixel-wide grey picture, ignoring runs under 8 pixels.
 */
async function tilesAcross(segmentUrl) {
  const file = path.join(os.tmpdir(), `oriel-frame-${process.pid}-${Date.now()}.gray`);
  const W = 160;
  const H = 90;
  await run('ffmpeg', ['-v', 'error', '-y', '-i', segmentUrl, '-frames:v', '1', '-vf', `scale=${W}:${H}`, '-f', 'rawvideo', '-pix_fmt', 'gray', file], { timeout: 20_000 });
  const pixels = fs.readFileSync(file);
  fs.rmSync(file, { force: true });
  const row = H / 2;
  let tiles = 0;
  let run_ = 0;
  for (let x = 0; x <= W; x++) {
    const bright = x < W && pixels[row * W + x] > 40;
    if (bright) run_++;
    else {
      if (run_ >= 8) tiles++;
      run_ = 0;
    }
  }
  return tiles;
}

async function liveStream(id) {
  return e2e.env.mux.Video.LiveStreams.get(id);
}

describe('broadcast', () => {
  e2e.test('gallery of two publishers (VP8 and H.264) to HLS and RTMP: clients told, H.264 + AAC at 1280x720 in both, hls.js plays it, two tiles, a killed compositor is replaced; stop completes the live stream', async (t) => {
    const { mux } = e2e.env;
    const stream = await mux.Video.LiveStreams.create({
      playback_policy: ['public', 'signed'],
      simulcast_targets: [{ url: rtmp.base, stream_key: 'gallery' }, { url: 'rtmp://127.0.0.1:1/refused', stream_key: 'x' }],
    });
    const space = await e2e.env.createSpace();
    const broadcast = await mux.Video.Spaces.Broadcasts.create(space.id, { live_stream_id: stream.id, layout: 'gallery', resolution: '1280x720' });
    const alice = await e2e.joined('alice', space.id, { options: { displayName: 'Alice' } });
    const bob = await e2e.joined('bob', space.id, { options: { displayName: 'Bob' } });
    // Bob's browser offers only H.264, Alice's VP8 too: both must show in the picture.
    await bob.p.page.evaluate(preferH264);
    for (const p of [alice, bob]) {
      const published = await p.p.publishCameraAndMic();
      assert.equal(published.ok, true, JSON.stringify(published.error));
    }
    await eventually(() => bob.p.page.evaluate(sentVideoCodecs), (codecs) => codecs.includes('video/H264'), { timeoutMs: 10_000, intervalMs: 250, what: 'Bob sending H.264' });
    await bob.p.waitForFrames(alice.id, 10, 15_000);

    await mux.Video.Spaces.Broadcasts.start(space.id, broadcast.id);
    for (const p of [alice, bob]) await p.p.waitForEvent('BroadcastStateChanged', (e) => e.args[0] === true, 5000);
    const started = Date.now();
    await eventually(() => liveStream(stream.id), (s) => s.status === 'active', { timeoutMs: 30_000, intervalMs: 250, what: 'the live stream to go active' });
    t.diagnostic(`live stream active ${Date.now() - started} ms after start`);
    // The compositor is hidden: no one sees a participant for it.
    const remote = await alice.p.remoteParticipants();
    assert.deepEqual(remote.map((r) => r.id).sort(), [bob.id], JSON.stringify(remote));

    const playlistUrl = `${e2e.server.baseUrl}/hls/${stream.playback_ids[0].id}.m3u8`;
    const { value: newest } = await eventually(() => newestSegment(playlistUrl), (v) => v && v.count >= 2, { timeoutMs: 20_000, intervalMs: 500, what: 'two HLS segments' });
    assertH264Aac(await probe(newest.url), 1280, 720, 'HLS segment');
    // The signed playback id plays the same recording with a token from Mux.JWT.signPlaybackId,
    // its playlist listing the segments with that token; without the token, 403.
    const signedId = stream.playback_ids.find((p) => p.policy === 'signed').id;
    const playToken = Mux.JWT.signPlaybackId(signedId, { keyId: e2e.env.key.id, keySecret: e2e.env.key.private_key });
    const signedPlaylist = `${e2e.server.baseUrl}/hls/${signedId}.m3u8`;
    assert.equal((await fetch(signedPlaylist)).status, 403);
    const signedNewest = await newestSegment(`${signedPlaylist}?token=${playToken}`);
    assert.ok(signedNewest && signedNewest.url.includes(`?token=${playToken}`), JSON.stringify(signedNewest));
    assertH264Aac(await probe(signedNewest.url), 1280, 720, 'HLS segment of the signed playback id');
    // A tile shows its camera once the compositor decodes it (a grey placeholder until then).
    await eventually(async () => tilesAcross((await newestSegment(playlistUrl)).url), (n) => n === 2, { timeoutMs: 15_000, intervalMs: 1000, what: 'two tiles in the picture' });

    await eventually(() => fs.existsSync(rtmp.recording('gallery')) && fs.statSync(rtmp.recording('gallery')).size > 50_000, (ok) => ok, { timeoutMs: 20_000, intervalMs: 500, what: 'RTMP media at nginx-rtmp' });
    assertH264Aac(await probe(rtmp.recording('gallery')), 1280, 720, 'RTMP stream');
    const targets = (await liveStream(stream.id)).simulcast_targets;
    assert.equal(targets[0].status, 'broadcasting', JSON.stringify(targets));
    assert.notEqual(targets[1].status, 'broadcasting', 'the refused target is not broadcasting');

    // hls.js in Chromium plays the playlist and decodes frames.
    const viewer = await e2e.participant('viewer');
    await viewer.page.addScriptTag({ path: HLS_JS });
    const decoded = await viewer.page.evaluate(async (src) => {
      const video = document.createElement('video');
      video.muted = true;
      document.body.appendChild(video);
      const hls = new window.Hls({ enableWorker: false });
      hls.loadSource(src);
      hls.attachMedia(video);
      await video.play().catch(() => {});
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        const frames = video.getVideoPlaybackQuality().totalVideoFrames;
        if (frames >= 30) return { frames, width: video.videoWidth, height: video.videoHeight };
        await new Promise((r) => setTimeout(r, 250));
      }
      return { frames: video.getVideoPlaybackQuality().totalVideoFrames, width: video.videoWidth };
    }, playlistUrl);
    assert.ok(decoded.frames >= 30, `hls.js decoded ${JSON.stringify(decoded)}`);
    assert.equal(decoded.width, 1280);

    // A compositor that dies is restarted, and goes on with the same recording.
    const compositorPid = async () => {
      const { stdout } = await run('pgrep', ['-f', `oriel-compositor.*${e2e.server.dataDir}`]).catch(() => ({ stdout: '' }));
      return stdout.trim().split('\n').filter(Boolean).map(Number);
    };
    const [first] = await compositorPid();
    assert.ok(first, 'a compositor runs for the broadcast');
    const before = (await newestSegment(playlistUrl)).count;
    process.kill(first, 'SIGKILL');
    const { value: restarted } = await eventually(compositorPid, (pids) => pids.length === 1 && pids[0] !== first, { timeoutMs: 15_000, intervalMs: 250, what: 'a new compositor' });
    t.diagnostic(`compositor ${first} killed, ${restarted[0]} took over`);
    const { value: resumed } = await eventually(() => newestSegment(playlistUrl), (v) => v && v.count >= before + 2 && v.text.includes('#EXT-X-DISCONTINUITY'), { timeoutMs: 20_000, intervalMs: 500, what: 'the recording to go on after the restart' });
    assert.ok(resumed.count > before);

    await mux.Video.Spaces.Broadcasts.stop(space.id, broadcast.id);
    for (const p of [alice, bob]) await p.p.waitForEvent('BroadcastStateChanged', (e) => e.args[0] === false, 5000);
    await eventually(() => liveStream(stream.id), (s) => s.status === 'idle', { timeoutMs: 15_000, intervalMs: 250, what: 'the live stream to go idle' });
    // Completed: the same URL now plays the whole recording.
    const { value: vod } = await eventually(() => newestSegment(playlistUrl), (v) => v && v.text.includes('#EXT-X-ENDLIST'), { timeoutMs: 15_000, intervalMs: 500, what: 'a VOD playlist' });
    assert.match(vod.text, /#EXT-X-PLAYLIST-TYPE:VOD/);
  });

  e2e.test('active-speaker shows one tile; the space going idle ends the broadcast', async () => {
    const { mux } = e2e.env;
    const stream = await mux.Video.LiveStreams.create({ playback_policy: 'public' });
    const space = await e2e.env.createSpace();
    const broadcast = await mux.Video.Spaces.Broadcasts.create(space.id, { live_stream_id: stream.id, layout: 'active-speaker', resolution: '1280x720' });
    const alice = await e2e.joined('alice', space.id);
    const bob = await e2e.joined('bob', space.id);
    for (const p of [alice, bob]) assert.equal((await p.p.publishCameraAndMic()).ok, true);
    await mux.Video.Spaces.Broadcasts.start(space.id, broadcast.id);
    await eventually(() => liveStream(stream.id), (s) => s.status === 'active', { timeoutMs: 30_000, intervalMs: 250, what: 'the live stream to go active' });
    const playlistUrl = `${e2e.server.baseUrl}/hls/${stream.playback_ids[0].id}.m3u8`;
    await eventually(() => newestSegment(playlistUrl), (v) => v && v.count >= 2, { timeoutMs: 20_000, intervalMs: 500, what: 'two HLS segments' });
    await eventually(async () => tilesAcross((await newestSegment(playlistUrl)).url), (n) => n === 1, { timeoutMs: 15_000, intervalMs: 1000, what: 'one speaker, full frame' });

    await alice.p.leave();
    await bob.p.leave();
    await eventually(() => mux.Video.Spaces.Broadcasts.get(space.id, broadcast.id), (b) => b.status === 'idle', { timeoutMs: 10_000, intervalMs: 250, what: 'the broadcast to stop with its space' });
    await eventually(() => liveStream(stream.id), (s) => s.status === 'idle', { timeoutMs: 15_000, intervalMs: 250, what: 'the live stream to go idle' });
    await sleep(100);
  });
});
