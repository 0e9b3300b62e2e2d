// bench/quality/run.mjs: the quality scenarios of tests/e2e/quality.test.mjs, against Oriel and
// against Janus 1.1.2, side by side. Run by bench/quality.sh inside its network namespace, where
// Janus already listens (WebSocket API on 127.0.0.1:8188, media ports JANUS_RTP_RANGE behind the
// relay) and Chromium runs as uid `nobody` with its UDP to 127.0.0.1 dropped, so that media can
// only go through the impairment relay on 127.0.0.2. Prints one JSON line of figures (last line
// of stdout); progress goes to stderr.
//
// Both servers get the same browser, the same fake camera (20 fps), the same relay, the same
// impairment sequence and the same measurement code (page.mjs). The publisher sends Oriel three
// simulcast layers (the Mux SDK's), Janus one VP8 stream (plain RTCPeerConnection; Janus's
// VideoRoom forwards what the publisher sends and does not choose a layer from a subscriber's
// downlink).
//
// Every wait below is bounded; the whole run is bounded again by bench/quality.sh (timeout).

import { createRequire } from 'node:module';
import { startServer } from '../../tests/e2e/lib/server.mjs';
import { launchBrowser } from '../../tests/e2e/lib/browser.mjs';
import { startImpair } from '../../tests/lib/impair.mjs';
import { watchVideo, inboundVideo, outboundVideo, cameraSettings, sleep } from './page.mjs';

const require = createRequire(new URL('../../tests/e2e/package.json', import.meta.url));
const WebSocket = require('ws');

const RELAY_IP = '127.0.0.2';
const [JANUS_FIRST, JANUS_LAST] = (process.env.JANUS_RTP_RANGE || '20000-20031').split('-').map(Number);
/** Oriel's media workers use --media-port and up to 15 ports after it. */
const ORIEL_MEDIA_PORTS = 16;
const log = (msg) => process.stderr.write(`quality: ${msg}\n`);

// Scenario timings (ms), the same for both servers.
const LOSS_SETTLE = 3000;
const LOSS_WINDOW = 30_000;
const TOP_WAIT = 20_000;
const CAP_LEAD = 1000; // watching before the cap starts
const CAP = 10_000;
const AFTER_CAP = 16_000;
const BURST_LEAD = 1000;
const BURST = 2000;
const AFTER_BURST = 6000;
/** A gap longer than this counts against recovery. */
const STALL_MS = 300;

/** Frames (epoch ms) within [from, to): count, fps, longest gap, gaps over STALL_MS. */
function slice(frames, from, to) {
  const inside = frames.filter((f) => f.at >= from && f.at < to);
  const points = [from, ...inside.map((f) => f.at), to];
  let maxGapMs = 0;
  const stalls = [];
  for (let i = 1; i < points.length; i++) {
    const gap = points[i] - points[i - 1];
    maxGapMs = Math.max(maxGapMs, gap);
    if (gap > STALL_MS) stalls.push([Math.round(points[i - 1] - from), Math.round(gap)]);
  }
  return { frames: inside.length, fps: +((inside.length * 1000) / (to - from)).toFixed(2), maxGapMs: Math.round(maxGapMs), stalls, inside };
}

/** Stats of both pages at one instant: the subscriber's inbound video, the publisher's encoder. */
async function snapshot(call) {
  const [inbound, outbound] = await Promise.all([inboundVideo(call.sub.page), outboundVideo(call.pub.page)]);
  return { at: Date.now(), inbound, outbound };
}

/** What happened between two snapshots: freezes, the publisher's encoded frame rate. */
function between(a, b) {
  const secs = (b.at - a.at) / 1000;
  return {
    publisherFps: +((b.outbound.framesEncoded - a.outbound.framesEncoded) / secs).toFixed(2),
    freezes: b.inbound.freezeCount - a.inbound.freezeCount,
    freezeSeconds: +(b.inbound.totalFreezesDuration - a.inbound.totalFreezesDuration).toFixed(2),
    packetsLost: b.inbound.packetsLost - a.inbound.packetsLost,
    nacks: b.inbound.nackCount - a.inbound.nackCount,
    plis: b.inbound.pliCount - a.inbound.pliCount,
    // The subscriber's mean jitter-buffer delay per frame over the interval (ms).
    jitterBufferMs: Math.round(
      (1000 * (b.inbound.jitterBufferDelay - a.inbound.jitterBufferDelay)) / Math.max(1, b.inbound.jitterBufferEmittedCount - a.inbound.jitterBufferEmittedCount),
    ),
  };
}

/** Watches the subscriber for `ms` while `during` runs; returns frames and snapshots. */
async function watching(call, ms, during) {
  const watch = watchVideo(call.sub.page, ms);
  const marks = await during();
  const frames = await watch;
  return { frames, marks };
}

/** The scenarios on a running call {sub, pub} (participants) through `relay`. */
async function scenarios(relay, call) {
  const out = {};

  // (1) 5 % loss and 40 ± 20 ms jitter both ways, 30 s.
  log('  5 % loss, 40 ± 20 ms jitter, both ways');
  await relay.set({ both: { loss: 0.05, delay_ms: 40, jitter_ms: 20 } });
  await sleep(LOSS_SETTLE);
  {
    const { frames, marks } = await watching(call, LOSS_WINDOW + 500, async () => {
      const a = await snapshot(call);
      await sleep(LOSS_WINDOW);
      return [a, await snapshot(call)];
    });
    const [a, b] = marks;
    const s = slice(frames, a.at, b.at);
    out.loss = { windowMs: b.at - a.at, fps: s.fps, maxGapMs: s.maxGapMs, stalls: s.stalls, ...between(a, b) };
  }
  await relay.set({ both: {} });

  // Settle on the top layer: the width the publisher encodes its widest stream at.
  let width = 0;
  const settleFrom = Date.now();
  for (const until = settleFrom + TOP_WAIT; Date.now() < until; ) {
    const f = await watchVideo(call.sub.page, 1000);
    width = f.at(-1)?.w ?? 0;
    const pubTop = (await outboundVideo(call.pub.page)).widest;
    if (pubTop && width >= pubTop.w) break;
  }
  const settledMs = Date.now() - settleFrom;

  // (2) The downlink (node to client) capped at 400 kbit/s for 10 s, then lifted.
  log('  400 kbit/s downlink for 10 s');
  {
    const { frames, marks } = await watching(call, CAP_LEAD + CAP + AFTER_CAP, async () => {
      await sleep(CAP_LEAD);
      const a = await snapshot(call);
      await relay.set({ down: { rate_kbps: 400 } });
      const capAt = Date.now();
      await sleep(CAP);
      await relay.set({ down: {} });
      const liftAt = Date.now();
      const b = await snapshot(call);
      await sleep(AFTER_CAP - 500);
      return { a, capAt, liftAt, b, c: await snapshot(call) };
    });
    const { a, capAt, liftAt, b, c } = marks;
    const top = frames.filter((f) => f.at < capAt).at(-1)?.w ?? width;
    const capped = slice(frames, capAt, liftAt);
    const lifted = slice(frames, liftAt, c.at);
    const lower = capped.inside.find((f) => f.w < top);
    const back = lower ? lifted.inside.find((f) => f.w >= top) : undefined;
    // Recovered: the end of the last stall that reaches past the lift.
    const resumed = Math.max(0, ...lifted.stalls.map(([at, len]) => at + len));
    out.cap = {
      publisherWidth: a.outbound.widest?.w ?? null,
      settledMs,
      top,
      // Chromium counts a freeze when it ends: those of the cap mostly land after the lift.
      scenario: between(a, c),
      fps: capped.fps,
      maxGapMs: capped.maxGapMs,
      stalls: capped.stalls,
      ...between(a, b),
      lowerAtMs: lower ? Math.round(lower.at - capAt) : null,
      lowerWidth: lower ? Math.min(...capped.inside.filter((f) => f.at >= lower.at).map((f) => f.w)) : null,
      widths: [...new Set(capped.inside.map((f) => f.w))],
      windowMs: liftAt - capAt,
      lifted: {
        windowMs: c.at - liftAt,
        fps: lifted.fps,
        maxGapMs: lifted.maxGapMs,
        stalls: lifted.stalls,
        recoveredMs: resumed,
        backToTopMs: back ? Math.round(back.at - liftAt) : null,
        endWidth: lifted.inside.at(-1)?.w ?? null,
        ...between(b, c),
      },
    };
  }

  // (3) A 2 s burst of 30 % loss both ways.
  await sleep(3000);
  log('  2 s of 30 % loss, both ways');
  {
    const { frames, marks } = await watching(call, BURST_LEAD + BURST + AFTER_BURST, async () => {
      await sleep(BURST_LEAD);
      const a = await snapshot(call);
      await relay.set({ both: { loss: 0.3 } });
      const burstAt = Date.now();
      await sleep(BURST);
      await relay.set({ both: {} });
      const endAt = Date.now();
      await sleep(AFTER_BURST - 500);
      return { a, burstAt, endAt, b: await snapshot(call) };
    });
    const { a, burstAt, endAt, b } = marks;
    const s = slice(frames, burstAt, b.at);
    // Recovered: the end of the last stall, counted from the burst's end (0 if none outlasts it).
    const lastStallEnd = Math.max(0, ...s.stalls.map(([at, len]) => burstAt + at + len - endAt));
    out.burst = { windowMs: b.at - burstAt, fps: s.fps, maxGapMs: s.maxGapMs, stalls: s.stalls, recoveredMsAfterBurst: Math.round(lastStallEnd), ...between(a, b) };
  }
  return out;
}

/** Both pages' selected pairs must lead to the relay (the server's side is 127.0.0.2). */
async function checkPairs(call) {
  const pairs = {};
  for (const who of ['pub', 'sub']) {
    const list = (await call[who].selectedPairs()).filter((p) => p.state === 'connected');
    if (!list.length || list.some((p) => p.remoteAddress !== RELAY_IP)) {
      throw new Error(`${who}: media does not cross the relay: ${JSON.stringify(list)}`);
    }
    pairs[who] = list.map((p) => `${p.localType}/${p.protocol} -> ${p.remoteAddress}:${p.remotePort}`);
  }
  return pairs;
}

/** Packets the relay carried; and the subscriber's own count must not exceed what it relayed down. */
async function relayCheck(relay, call) {
  const stats = await relay.stats();
  const received = (await inboundVideo(call.sub.page)).packetsReceived;
  if (received > stats.down.out) throw new Error(`the subscriber received ${received} packets, the relay sent down only ${stats.down.out}`);
  return { up: stats.up, down: stats.down, subscriberVideoPackets: received };
}

async function oriel(browser) {
  const server = await startServer({ name: 'oriel', args: ['--public-ip', RELAY_IP, '--media-tcp-port', '0', '--turn-port', '0'] });
  const relay = await startImpair({ listenIp: RELAY_IP, ports: Array.from({ length: ORIEL_MEDIA_PORTS }, (_, i) => server.mediaPort + i) });
  try {
    const env = await server.environment('bench');
    const space = await env.createSpace();
    const sub = await browser.participant('viewer', server.backendUrl);
    const pub = await browser.participant('camera', server.backendUrl);
    if (!(await sub.join(env.sign(space.id, { participantId: 'viewer', role: 'subscriber' }))).ok) throw new Error('subscriber join');
    if (!(await pub.join(env.sign(space.id, { participantId: 'camera' }))).ok) throw new Error('publisher join');
    const cam = await pub.publishCamera();
    if (!cam.ok) throw new Error(`publishCamera: ${JSON.stringify(cam.error)}`);
    await sub.waitForFrames('camera', 10, 20_000);
    const camera = await cameraSettings(pub.page);
    const call = { sub, pub };
    const pairs = await checkPairs(call);
    await sleep(5000);
    const figures = await scenarios(relay, call);
    const layers = (await pub.outboundStats()).map((s) => `${s.rid ?? '-'}:${s.frameWidth}x${s.frameHeight}`);
    return { client: '@mux/spaces-web 1.2.0, simulcast', camera, layers, pairs, relay: await relayCheck(relay, call), ...figures };
  } finally {
    await relay.stop();
    await browser.closeParticipants();
    await server.stop();
    server.cleanup();
  }
}

/** A Janus session over its WebSocket API: a handle's message resolves with the plugin's answer. */
async function janusSession() {
  const ws = new WebSocket('ws://127.0.0.1:8188', 'janus-protocol');
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let next = 0;
  const waiting = new Map();
  ws.on('message', (data) => {
    const msg = JSON.parse(data);
    if (msg.janus === 'ack') return;
    waiting.get(msg.transaction)?.(msg);
  });
  const send = (body) =>
    new Promise((resolve, reject) => {
      const transaction = `t${++next}`;
      const timer = setTimeout(() => reject(new Error(`janus: no answer to ${JSON.stringify(body)}`)), 15_000);
      waiting.set(transaction, (msg) => {
        clearTimeout(timer);
        waiting.delete(transaction);
        msg.janus === 'error' || msg.plugindata?.data?.error ? reject(new Error(JSON.stringify(msg.error ?? msg.plugindata.data))) : resolve(msg);
      });
      ws.send(JSON.stringify({ ...body, transaction }));
    });
  const session = (await send({ janus: 'create' })).data.id;
  const keepalive = setInterval(() => ws.send(JSON.stringify({ janus: 'keepalive', session_id: session, transaction: 'k' })), 20_000);
  return {
    async attach() {
      const handle = (await send({ janus: 'attach', plugin: 'janus.plugin.videoroom', session_id: session })).data.id;
      return (body, jsep) => send({ janus: 'message', session_id: session, handle_id: handle, body, ...(jsep ? { jsep } : {}) });
    },
    close() {
      clearInterval(keepalive);
      ws.close();
    },
  };
}

async function janus(browser, camera) {
  const relay = await startImpair({ listenIp: RELAY_IP, ports: Array.from({ length: JANUS_LAST - JANUS_FIRST + 1 }, (_, i) => JANUS_FIRST + i) });
  const session = await janusSession();
  try {
    // Pages of the same harness (its pc-tap records every RTCPeerConnection), without the SDK.
    const pub = await browser.participant('janus-camera', 'ws://127.0.0.1:9/pluto');
    const sub = await browser.participant('janus-viewer', 'ws://127.0.0.1:9/pluto');
    // Publisher: the fake camera at the size the Mux SDK captured it, one VP8 stream. Janus takes
    // a complete offer (candidates gathered).
    const offer = await pub.page.evaluate(
      async (camera) => {
        const pc = new RTCPeerConnection();
        window.__benchPc = pc;
        const video = camera ? { width: { exact: camera.w }, height: { exact: camera.h }, frameRate: { ideal: camera.fps } } : true;
        const stream = await navigator.mediaDevices.getUserMedia({ video });
        pc.addTransceiver(stream.getVideoTracks()[0], { direction: 'sendonly' });
        await pc.setLocalDescription();
        await new Promise((resolve) => {
          const done = () => pc.iceGatheringState === 'complete' && resolve();
          pc.addEventListener('icegatheringstatechange', done);
          done();
          setTimeout(resolve, 5000); // bounded: the SDP then carries what was gathered
        });
        return pc.localDescription.sdp;
      },
      camera,
    );
    const publish = await session.attach();
    const joined = await publish({ request: 'joinandconfigure', room: 1234, ptype: 'publisher', display: 'camera', audio: false, video: true }, { type: 'offer', sdp: offer });
    const feed = joined.plugindata.data.id;
    await pub.page.evaluate((sdp) => window.__benchPc.setRemoteDescription({ type: 'answer', sdp }), joined.jsep.sdp);
    // Janus lists a feed to subscribers once its media is up.
    for (let i = 0; i < 100 && (await pub.page.evaluate(() => window.__benchPc.connectionState)) !== 'connected'; i++) await sleep(100);
    await sleep(1000);
    // Subscriber: Janus offers, the page answers.
    const subscribe = await session.attach();
    const attached = await subscribe({ request: 'join', room: 1234, ptype: 'subscriber', streams: [{ feed }] });
    const answer = await sub.page.evaluate(
      async (sdp) => {
        const pc = new RTCPeerConnection();
        const video = document.createElement('video');
        video.muted = true;
        video.autoplay = true;
        video.playsInline = true;
        document.getElementById('media').append(video);
        window.__benchVideo = video;
        pc.ontrack = (e) => {
          video.srcObject = new MediaStream([e.track]);
          video.play().catch(() => {});
        };
        await pc.setRemoteDescription({ type: 'offer', sdp });
        await pc.setLocalDescription();
        await new Promise((resolve) => {
          const done = () => pc.iceGatheringState === 'complete' && resolve();
          pc.addEventListener('icegatheringstatechange', done);
          done();
          setTimeout(resolve, 5000); // bounded: the SDP then carries what was gathered
        });
        return pc.localDescription.sdp;
      },
      attached.jsep.sdp,
    );
    await subscribe({ request: 'start' }, { type: 'answer', sdp: answer });
    let seen = 0;
    for (let i = 0; i < 50 && seen < 10; i++) seen += (await watchVideo(sub.page, 400)).length;
    if (seen < 10) throw new Error('Janus: the subscriber presented no frames');
    const call = { sub, pub };
    const pairs = await checkPairs(call);
    await sleep(5000);
    const figures = await scenarios(relay, call);
    const layers = (await pub.outboundStats()).map((s) => `${s.rid ?? '-'}:${s.frameWidth}x${s.frameHeight}`);
    return { client: 'RTCPeerConnection, one VP8 stream', camera: await cameraSettings(pub.page), layers, pairs, relay: await relayCheck(relay, call), ...figures };
  } finally {
    session.close();
    await relay.stop();
    await browser.closeParticipants();
  }
}

const only = process.env.QUALITY_ONLY; // oriel | janus: one side (when working on the bench)
const browser = await launchBrowser();
try {
  const results = { oriel: null, janus: null };
  if (only !== 'janus') {
    log('Oriel');
    results.oriel = await oriel(browser);
  }
  if (only !== 'oriel') {
    // The Janus publisher captures at the Mux SDK's camera settings (from the Oriel run), or the
    // camera's default when only Janus runs.
    log('Janus');
    results.janus = await janus(browser, results.oriel?.camera ?? null);
  }
  console.log(JSON.stringify(results));
} finally {
  await browser.close();
}
