// Page side of the e2e harness: drives the unmodified MuxSpaces SDK (global `MuxSpaces`, loaded
// from @mux/spaces-web/dist/mux-spaces.js) and records what it does, in a form that crosses
// page.evaluate (plain JSON). The Node side is lib/participant.mjs.
//
// window.oriel.join(jwt, options, timeoutMs)  → {ok, localParticipant, sessionId} | {ok:false, stage, error}
// window.oriel.events(sinceSeq)               → [{seq, t, name, args}]  every SpaceEvent, args summarised
// window.oriel.publishCamera() / publishMic() → {ok, tracks} | {ok:false, error}
// window.oriel.framesDecoded(participantId)   → {framesDecoded, tracks:[...inbound-rtp video per track]}
// window.oriel.inboundStats()                 → every inbound-rtp of every peer connection
// window.oriel.peerConnections()              → state of every RTCPeerConnection the page made
// window.oriel.leave()
(() => {
  'use strict';
  const started = performance.now();
  const log = [];
  let seq = 0;
  let space = null;
  /** RemoteParticipant objects by participant id, from ParticipantJoined (removed on ParticipantLeft). */
  const remotes = new Map();
  /** <video>/<audio> elements subscribed tracks are attached to, by tid. */
  const elements = new Map();
  const published = [];

  const errorInfo = (e) => {
    if (e === undefined || e === null) return { name: String(e), message: '' };
    if (typeof e !== 'object') return { name: typeof e, message: String(e) };
    return {
      name: e.name,
      constructorName: e.constructor && e.constructor.name,
      message: e.message,
      code: e.code,
      // MuxError is not exported; it is the parent class of every exported error class.
      isMuxError: typeof MuxSpaces !== 'undefined' && e instanceof Object.getPrototypeOf(MuxSpaces.JWTError),
      isJWTError: typeof MuxSpaces !== 'undefined' && e instanceof MuxSpaces.JWTError,
      stack: typeof e.stack === 'string' ? e.stack.split('\n').slice(0, 6).join('\n') : undefined,
    };
  };

  const isParticipant = (v) => v && typeof v === 'object' && 'connectionId' in v && 'id' in v && ('audioTracks' in v || 'videoTracks' in v);
  const isTrack = (v) => v && typeof v === 'object' && 'tid' in v && ('kind' in v || 'source' in v);

  function summarize(v, depth = 0) {
    if (v === null || v === undefined) return v;
    if (typeof v === 'function') return '[function]';
    if (typeof v !== 'object') return v;
    if (depth > 4) return '[deep]';
    if (v instanceof Error) return { kind: 'error', ...errorInfo(v) };
    if (isParticipant(v)) {
      const tracks = [...(v.audioTracks ? v.audioTracks.values() : []), ...(v.videoTracks ? v.videoTracks.values() : [])];
      return {
        kind: 'participant',
        local: space ? v === space.localParticipant : undefined,
        id: v.id,
        connectionId: v.connectionId,
        role: v.role,
        status: v.status,
        displayName: v.displayName,
        tracks: tracks.map((t) => summarize(t, depth + 1)),
      };
    }
    if (isTrack(v)) {
      return {
        kind: 'track',
        tid: v.tid,
        trackKind: v.kind,
        source: v.source,
        name: v.name,
        muted: v.muted,
        width: v.width,
        height: v.height,
        hasMedia: typeof v.hasMedia === 'function' ? v.hasMedia() : undefined,
        mediaTrackId: v.track ? v.track.id : undefined,
      };
    }
    if (Array.isArray(v)) return v.map((x) => summarize(x, depth + 1));
    if (v instanceof Map) return { kind: 'map', entries: [...v.entries()].map(([k, x]) => [k, summarize(x, depth + 1)]) };
    const out = {};
    for (const [k, x] of Object.entries(v)) out[k] = summarize(x, depth + 1);
    return out;
  }

  function record(name, args) {
    let summarized;
    try {
      summarized = args.map((a) => summarize(a));
    } catch (e) {
      summarized = [{ kind: 'unsummarizable', error: String(e) }];
    }
    log.push({ seq: ++seq, t: Math.round(performance.now() - started), name, args: summarized });
  }

  function onSpaceEvent(name, args) {
    const [a, b] = args;
    if (name === 'ParticipantJoined' && a) remotes.set(a.id, a);
    if (name === 'ParticipantLeft' && a) remotes.delete(a.id);
    if (name === 'ParticipantTrackSubscribed' && b && b.track) attach(b);
    if (name === 'ParticipantTrackUnsubscribed' && b) detach(b);
  }

  function attach(track) {
    const isVideo = track.kind === (MuxSpaces.TrackKind ? MuxSpaces.TrackKind.Video : 2);
    const el = document.createElement(isVideo ? 'video' : 'audio');
    el.autoplay = true;
    el.muted = true; // autoplay without a user gesture; decoding does not need sound
    el.playsInline = true;
    el.dataset.tid = track.tid;
    document.getElementById('media').appendChild(el);
    try {
      track.attach(el);
    } catch (e) {
      record('HarnessAttachError', [e]);
    }
    const old = elements.get(track.tid);
    if (old && old !== el) old.remove();
    elements.set(track.tid, el);
    el.play && el.play().catch(() => {});
  }

  function detach(track) {
    const el = elements.get(track.tid);
    if (!el) return;
    try {
      track.detach(el);
    } catch {
      // already detached
    }
    el.remove();
    elements.delete(track.tid);
  }

  const withTimeout = (promise, ms, what) =>
    Promise.race([
      promise,
      new Promise((_, reject) =>
        setTimeout(() => {
          const e = new Error(`${what} did not settle within ${ms} ms`);
          e.name = 'HarnessTimeout';
          reject(e);
        }, ms),
      ),
    ]);

  async function publish(constraints, what, timeoutMs) {
    if (!space || !space.localParticipant) return { ok: false, error: { name: 'HarnessError', message: 'not joined' } };
    let tracks;
    try {
      tracks = await withTimeout(MuxSpaces.getUserMedia(constraints), timeoutMs, `getUserMedia(${what})`);
    } catch (e) {
      return { ok: false, stage: 'getUserMedia', error: errorInfo(e) };
    }
    try {
      const result = await withTimeout(space.localParticipant.publishTracks(tracks), timeoutMs, `publishTracks(${what})`);
      published.push(...result);
      return { ok: true, tracks: result.map((t) => summarize(t)) };
    } catch (e) {
      return { ok: false, stage: 'publishTracks', error: errorInfo(e), tracks: tracks.map((t) => summarize(t)) };
    }
  }

  async function inboundStats() {
    const out = [];
    for (const [index, { pc }] of window.__orielPeerConnections.entries()) {
      let report;
      try {
        report = await pc.getStats();
      } catch {
        continue;
      }
      report.forEach((s) => {
        if (s.type !== 'inbound-rtp') return;
        out.push({
          pc: index,
          kind: s.kind,
          mid: s.mid,
          trackIdentifier: s.trackIdentifier,
          packetsReceived: s.packetsReceived,
          packetsLost: s.packetsLost,
          bytesReceived: s.bytesReceived,
          framesDecoded: s.framesDecoded,
          framesReceived: s.framesReceived,
          frameWidth: s.frameWidth,
          frameHeight: s.frameHeight,
          jitterBufferDelay: s.jitterBufferDelay,
          totalSamplesReceived: s.totalSamplesReceived,
          audioLevel: s.audioLevel,
        });
      });
    }
    return out;
  }

  window.oriel = {
    /** Creates the Space (MUX_SPACES_BACKEND_URL is already set) and joins it. */
    async join(jwt, options, timeoutMs) {
      if (space) return { ok: false, stage: 'harness', error: { name: 'HarnessError', message: 'join() called twice' } };
      try {
        space = new MuxSpaces.Space(jwt, options || undefined);
      } catch (e) {
        return { ok: false, stage: 'constructor', error: errorInfo(e) };
      }
      for (const name of Object.values(MuxSpaces.SpaceEvent)) {
        space.on(name, (...args) => {
          try {
            onSpaceEvent(name, args);
          } finally {
            record(name, args);
          }
        });
      }
      try {
        const lp = await withTimeout(space.join(), timeoutMs, 'space.join()');
        return { ok: true, localParticipant: summarize(lp), sessionId: space.sessionId, broadcasting: space.broadcasting };
      } catch (e) {
        return { ok: false, stage: 'join', error: errorInfo(e) };
      }
    },
    leave() {
      if (!space) return { ok: false };
      space.leave();
      return { ok: true };
    },
    events(since = 0) {
      return log.filter((e) => e.seq > since);
    },
    localParticipant() {
      return space && space.localParticipant ? summarize(space.localParticipant) : null;
    },
    remoteParticipants() {
      return [...remotes.values()].map((p) => summarize(p));
    },
    publishCamera(timeoutMs = 15000) {
      return publish({ video: true, audio: false }, 'camera', timeoutMs);
    },
    publishMic(timeoutMs = 15000) {
      return publish({ video: false, audio: true }, 'microphone', timeoutMs);
    },
    /** Sum of framesDecoded over the inbound video streams carrying `participantId`'s tracks. */
    async framesDecoded(participantId) {
      const p = remotes.get(participantId);
      if (!p) return { framesDecoded: 0, tracks: [], note: 'no such remote participant' };
      const ids = new Map();
      for (const t of p.videoTracks.values()) if (t.track) ids.set(t.track.id, t.tid);
      const stats = await inboundStats();
      const tracks = stats
        .filter((s) => s.kind === 'video' && ids.has(s.trackIdentifier))
        .map((s) => ({ tid: ids.get(s.trackIdentifier), ...s }));
      return { framesDecoded: tracks.reduce((n, s) => n + (s.framesDecoded || 0), 0), tracks };
    },
    inboundStats,
    peerConnections() {
      return window.__orielPeerConnections.map(({ pc, createdAt, config }) => ({
        createdAt: Math.round(createdAt),
        iceServers: config && config.iceServers,
        signalingState: pc.signalingState,
        iceConnectionState: pc.iceConnectionState,
        connectionState: pc.connectionState,
        transceivers: pc.getTransceivers().map((t) => ({ mid: t.mid, direction: t.direction, currentDirection: t.currentDirection, kind: t.receiver.track && t.receiver.track.kind })),
      }));
    },
  };
})();
