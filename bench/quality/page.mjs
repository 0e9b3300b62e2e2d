// bench/quality/page.mjs: what bench/quality/run.mjs reads in a Chromium page, the same code
// for the Oriel call (the Mux SDK's page) and the Janus call (a plain RTCPeerConnection in the
// same harness page, whose pc-tap lists every peer connection in window.__orielPeerConnections).

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Frames the subscriber's video element presents over `ms`, counted as the e2e harness counts
 * them (tests/e2e/lib/page/harness.js watchFrames: requestVideoFrameCallback), but stamped in
 * epoch milliseconds so that they line up with the moments the relay changed: [{at, w, h}].
 * The element: window.__benchVideo (the Janus page) or the one playing video in #media (the
 * SDK's page, which subscribes to one camera).
 */
export function watchVideo(page, ms) {
  return page.evaluate(async (ms) => {
    const el =
      window.__benchVideo ||
      [...document.querySelectorAll('#media video')].filter((v) => v.srcObject).sort((a, b) => b.videoWidth - a.videoWidth)[0];
    if (!el || typeof el.requestVideoFrameCallback !== 'function') {
      await new Promise((r) => setTimeout(r, ms));
      return [];
    }
    const start = performance.now();
    const frames = [];
    await new Promise((resolve) => {
      const onFrame = (now, meta) => {
        if (now - start >= ms) return resolve();
        if (now >= start) frames.push({ at: performance.timeOrigin + now, w: meta.width, h: meta.height });
        el.requestVideoFrameCallback(onFrame);
      };
      el.requestVideoFrameCallback(onFrame);
      setTimeout(resolve, ms + 50);
    });
    return frames;
  }, ms);
}

/** The page's inbound video (every peer connection, summed), from getStats. */
export function inboundVideo(page) {
  return page.evaluate(async () => {
    const sum = {
      freezeCount: 0,
      totalFreezesDuration: 0,
      packetsReceived: 0,
      packetsLost: 0,
      nackCount: 0,
      pliCount: 0,
      framesDecoded: 0,
      jitterBufferDelay: 0,
      jitterBufferEmittedCount: 0,
    };
    for (const { pc } of window.__orielPeerConnections) {
      if (pc.connectionState === 'closed') continue;
      (await pc.getStats()).forEach((s) => {
        if (s.type !== 'inbound-rtp' || s.kind !== 'video') return;
        for (const k of Object.keys(sum)) sum[k] += s[k] ?? 0;
      });
    }
    return sum;
  });
}

/** The page's outbound video: frames encoded by its busiest stream, its widest stream's size. */
export function outboundVideo(page) {
  return page.evaluate(async () => {
    let framesEncoded = 0;
    let widest = null;
    for (const { pc } of window.__orielPeerConnections) {
      if (pc.connectionState === 'closed') continue;
      (await pc.getStats()).forEach((s) => {
        if (s.type !== 'outbound-rtp' || s.kind !== 'video') return;
        framesEncoded = Math.max(framesEncoded, s.framesEncoded ?? 0);
        if (s.frameWidth && (!widest || s.frameWidth > widest.w)) widest = { w: s.frameWidth, h: s.frameHeight };
      });
    }
    return { framesEncoded, widest };
  });
}

/** The size and frame rate the page's camera captures at (its sending video track's settings). */
export function cameraSettings(page) {
  return page.evaluate(() => {
    for (const { pc } of window.__orielPeerConnections) {
      for (const sender of pc.getSenders()) {
        if (sender.track?.kind === 'video') {
          const { width, height, frameRate } = sender.track.getSettings();
          return { w: width, h: height, fps: frameRate };
        }
      }
    }
    return null;
  });
}
