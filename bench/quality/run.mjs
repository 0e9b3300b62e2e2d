// bench/quality/run.mjs: the quality scenarios of tests/e2e/quality.test.mjs, against Oriel and
// against Janus 1.1.2, side by side. Run by bench/quality.sh inside its network namespace, where
// Janus already listens (WebSocket API on 127.0.0.1:8188, media ports JANUS_RTP_RANGE behind the
// relay) and Chromium runs as uid `nobody` with its UDP to 127.0.0.1 dropped, so that media can
// only go through the impairment relay on 127.0.0.2. Prints one JSON line of figures.
//
// Both servers get the same browser, the same fake camera (20 fps), the same relay and the same
// impairment sequence. The publisher sends Oriel three simulcast layers (the Mux SDK's), Janus
// one VP8 stream (plain RTCPeerConnection; Janus's VideoRoom forwards one layer per subscriber
// and adapts it only by REMB to the publisher).

import { createRequire } from 'node:module';
import { startServer } from '../../tests/e2e/lib/server.mjs';
import { launchBrowser } from '../../tests/e2e/lib/browser.mjs';
import { startImpair } from '../../tests/lib/impair.mjs';

const require = createRequire(new URL('../../tests/e2e/package.json', import.meta.url));
const WebSocket = require('ws');

const RELAY_IP = '127.0.0.2';
const [JANUS_FIRST, JANUS_LAST] = (process.env.JANUS_RTP_RANGE || '20000-20031').split('-').map(Number);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Frames presented by the page's `window.__benchVideo` over `ms`, counted as the e2e harness
 *  counts them for the Mux SDK's video elements (tests/e2e/lib/page/harness.js watchFrames). */
function watchVideo(page, ms) {
  return page.evaluate(async (ms) => {
    const el = window.__benchVideo;
    const start = performance.now();
    const times = [];
    const sizes = [];
    await new Promise((resolve) => {
      const onFrame = (now, meta) => {
        const t = now - start;
        if (t >= ms) return resolve();
        if (t >= 0) {
          times.push(t);
          const last = sizes[sizes.length - 1];
          if (!last || last[1] !== meta.width) sizes.push([Math.round(t), meta.width, meta.height]);
        }
        el.requestVideoFrameCallback(onFrame);
      };
      el.requestVideoFrameCallback(onFrame);
      setTimeout(resolve, ms + 50);
    });
    const points = [0, ...times, ms];
    const gaps = [];
    let maxGapMs = 0;
    for (let i = 1; i < points.length; i++) {
      const gap = points[i] - points[i - 1];
      maxGapMs = Math.max(maxGapMs, gap);
      if (gap > 200) gaps.push([Math.round(points[i - 1]), Math.round(gap)]);
    }
    return { frames: times.length, fps: (times.length * 1000) / ms, maxGapMs: Math.round(maxGapMs), gaps, sizes };
  }, ms);
}

/** Freezes as Chromium counts them, summed over the page's inbound video. */
function freezes(page) {
  return page.evaluate(async () => {
    let count = 0;
    let seconds = 0;
    for (const { pc } of window.__orielPeerConnections) {
      (await pc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') {
          count += s.freezeCount ?? 0;
          seconds += s.totalFreezesDuration ?? 0;
        }
      });
    }
    return { count, seconds };
  });
}

/** The scenarios, on a call: `watch(ms)` counts the subscriber's frames, `page` is its page. */
async function scenarios(relay, { page, watch }) {
  const out = {};
  const measure = async (ms) => {
    const before = await freezes(page);
    const seen = await watch(ms);
    const after = await freezes(page);
    return { ...seen, freezes: after.count - before.count, freezeSeconds: +(after.seconds - before.seconds).toFixed(2) };
  };
  await relay.set({ both: { loss: 0.05, delay_ms: 40, jitter_ms: 20 } });
  await sleep(3000);
  out.loss = await measure(30_000);
  await relay.set({ both: {} });
  await sleep(8000);
  const top = (await watch(1000)).sizes.at(-1)?.[1] ?? 0;
  await relay.set({ down: { rate_kbps: 400 } });
  const capped = await measure(10_000);
  await relay.set({ down: {} });
  const lifted = await measure(16_000);
  out.cap = {
    top,
    lowerAtMs: capped.sizes.find(([, w]) => w < top)?.[0] ?? null,
    cappedFps: capped.fps,
    cappedMaxGapMs: capped.maxGapMs,
    cappedFreezes: capped.freezes,
    backToTopMs: lifted.sizes.find(([, w]) => w >= top)?.[0] ?? (lifted.sizes.length === 1 && lifted.sizes[0][1] >= top ? 0 : null),
    liftedFps: lifted.fps,
  };
  await sleep(3000);
  const burst = measure(8000);
  await relay.set({ both: { loss: 0.3 } });
  await sleep(2000);
  await relay.set({ both: {} });
  const b = await burst;
  const lastLongGapEnd = Math.max(2000, ...b.gaps.filter(([, len]) => len > 300).map(([at, len]) => at + len));
  out.burst = { fps: b.fps, maxGapMs: b.maxGapMs, recoveredMsAfterBurst: lastLongGapEnd - 2000, freezes: b.freezes };
  return out;
}

async function oriel(browser) {
  const server = await startServer({ name: 'oriel', args: ['--public-ip', RELAY_IP, '--media-tcp-port', '0', '--turn-port', '0'] });
  const relay = await startImpair({ listenIp: RELAY_IP, ports: Array.from({ length: 16 }, (_, i) => server.mediaPort + i) });
  try {
    const env = await server.environment('bench');
    const space = await env.createSpace();
    const sub = await browser.participant('viewer', server.backendUrl);
    const pub = await browser.participant('camera', server.backendUrl);
    if (!(await sub.join(env.sign(space.id, { participantId: 'viewer', role: 'subscriber' }))).ok) throw new Error('subscriber join');
    if (!(await pub.join(env.sign(space.id, { participantId: 'camera' }))).ok) throw new Error('publisher join');
    if (!(await pub.publishCamera()).ok) throw new Error('publishCamera');
    await sub.waitForFrames('camera', 10, 20_000);
    await sleep(5000);
    return await scenarios(relay, { page: sub.page, watch: (ms) => sub.watchFrames('camera', ms) });
  } finally {
    await relay.stop();
    await browser.closeParticipants();
    await server.stop();
    server.cleanup();
  }
}

/** A Janus session over its WebSocket API: request() answers the plugin's event for a message. */
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
        msg.janus === 'error' ? reject(new Error(JSON.stringify(msg.error))) : resolve(msg);
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

async function janus(browser) {
  const relay = await startImpair({ listenIp: RELAY_IP, ports: Array.from({ length: JANUS_LAST - JANUS_FIRST + 1 }, (_, i) => JANUS_FIRST + i) });
  const session = await janusSession();
  try {
    const pub = await browser.participant('janus-camera', 'ws://127.0.0.1:9/pluto');
    const sub = await browser.participant('janus-viewer', 'ws://127.0.0.1:9/pluto');
    // Publisher: a camera offer with its candidates gathered (Janus takes a complete SDP).
    const offer = await pub.page.evaluate(async () => {
      const pc = new RTCPeerConnection();
      window.__benchPc = pc;
      const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 720 } });
      pc.addTransceiver(stream.getVideoTracks()[0], { direction: 'sendonly' });
      await pc.setLocalDescription();
      await new Promise((r) => (pc.iceGatheringState === 'complete' ? r() : pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && r())));
      return pc.localDescription.sdp;
    });
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
    const answer = await sub.page.evaluate(async (sdp) => {
      const pc = new RTCPeerConnection();
      const video = document.createElement('video');
      video.muted = true;
      video.autoplay = true;
      video.playsInline = true;
      document.body.append(video);
      window.__benchVideo = video;
      pc.ontrack = (e) => {
        video.srcObject = new MediaStream([e.track]);
        video.play().catch(() => {});
      };
      await pc.setRemoteDescription({ type: 'offer', sdp });
      await pc.setLocalDescription();
      await new Promise((r) => (pc.iceGatheringState === 'complete' ? r() : pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && r())));
      return pc.localDescription.sdp;
    }, attached.jsep.sdp);
    await subscribe({ request: 'start' }, { type: 'answer', sdp: answer });
    for (let i = 0; i < 100 && (await watchVideo(sub.page, 200)).frames < 2; i++);
    const pairs = await sub.selectedPairs();
    if (!pairs.some((p) => p.remoteAddress === RELAY_IP)) throw new Error(`Janus media does not cross the relay: ${JSON.stringify(pairs)}`);
    await sleep(5000);
    return await scenarios(relay, { page: sub.page, watch: (ms) => watchVideo(sub.page, ms) });
  } finally {
    session.close();
    await relay.stop();
    await browser.closeParticipants();
  }
}

const browser = await launchBrowser();
try {
  // QUALITY_ONLY=oriel|janus runs one side (when debugging the bench itself).
  const only = process.env.QUALITY_ONLY;
  const results = {
    oriel: only === 'janus' ? null : await oriel(browser),
    janus: only === 'oriel' ? null : await janus(browser),
  };
  console.log(JSON.stringify(results));
} finally {
  await browser.close();
}
