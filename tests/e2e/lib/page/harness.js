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
// window.oriel.submitAcrScore(score)         → {ok} | {ok:false, error}
// and more below: publishCameraAndMic, unpublish, mute/unmute, customEvent, setDisplayName,
// subscribe/unsubscribe (MANUAL mode), signalFrames/sockets/dropSignalSocket (lib/page/ws-tap.js),
// audioLevels, makeOffer.
(() => {
  'use strict';
  const started = performance.now();
  const log = [];
  let seq = 0;
  let space = null;
  /**
   * RemoteParticipant objects by connection id, from ParticipantJoined (removed on ParticipantLeft),
   * as the SDK keys them: during a reconnection two connections of one participant id may overlap.
   */
  const remotes = new Map();
  /** The most recently joined remote connection of `participantId`. */
  const remoteById = (participantId) => {
    let found;
    for (const p of remotes.values()) if (p.id === participantId) found = p;
    return found;
  };
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
    if (name === 'ParticipantJoined' && a) remotes.set(a.connectionId, a);
    if (name === 'ParticipantLeft' && a) remotes.delete(a.connectionId);
    if (name === 'ParticipantTrackSubscribed' && b && b.track) attach(b);
    if (name === 'ParticipantTrackUnsubscribed' && b) detach(b);
  }

  function attach(track) {
    const isVideo = track.kind === (MuxSpaces.TrackKind ? MuxSpaces.TrackKind.Video : 2);
    const el = document.createElement(isVideo ? 'video' : 'audio');
    el.autoplay = true;
    // Video: muted for autoplay without a user gesture. Audio plays unmuted (headless Chromium
    // allows it, into a fake output): Chromium measures inbound-rtp audioLevel/totalAudioEnergy
    // only for audio that is played out, and a muted element reads as silence.
    el.muted = isVideo;
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

  /** `pick(stats, index, pc)` of every peer connection's getStats() report that could be read. */
  async function eachReport(pick) {
    const out = [];
    for (const [index, { pc }] of window.__orielPeerConnections.entries()) {
      let report;
      try {
        report = await pc.getStats();
      } catch {
        continue;
      }
      out.push(...pick(report, index, pc));
    }
    return out;
  }

  /** The stats entries of `type` (and `kind`, if given) of every peer connection, mapped. */
  const eachStat = (type, kind, map) =>
    eachReport((report, index) => {
      const out = [];
      report.forEach((s) => {
        if (s.type === type && (!kind || s.kind === kind)) out.push({ pc: index, ...map(s) });
      });
      return out;
    });

  function inboundStats() {
    return eachStat('inbound-rtp', null, (s) => ({
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
      jitterBufferTargetDelay: s.jitterBufferTargetDelay,
      jitterBufferMinimumDelay: s.jitterBufferMinimumDelay,
      jitterBufferEmittedCount: s.jitterBufferEmittedCount,
      totalSamplesReceived: s.totalSamplesReceived,
      audioLevel: s.audioLevel,
      // What a user notices on a bad network (Chromium's own counting).
      freezeCount: s.freezeCount,
      totalFreezesDuration: s.totalFreezesDuration,
      framesPerSecond: s.framesPerSecond,
      framesDropped: s.framesDropped,
      keyFramesDecoded: s.keyFramesDecoded,
      nackCount: s.nackCount,
      pliCount: s.pliCount,
      retransmittedPacketsReceived: s.retransmittedPacketsReceived,
      concealedSamples: s.concealedSamples,
      concealmentEvents: s.concealmentEvents,
    }));
  }

  /** Every outbound video stream (one per simulcast layer) of every peer connection. */
  function outboundStats() {
    return eachStat('outbound-rtp', 'video', (s) => ({
      rid: s.rid,
      active: s.active,
      framesEncoded: s.framesEncoded,
      framesPerSecond: s.framesPerSecond,
      frameWidth: s.frameWidth,
      frameHeight: s.frameHeight,
      bytesSent: s.bytesSent,
      qualityLimitationReason: s.qualityLimitationReason,
      retransmittedPacketsSent: s.retransmittedPacketsSent,
      nackCount: s.nackCount,
      pliCount: s.pliCount,
    }));
  }

  /** Every open peer connection's selected candidate pair: types, protocols, addresses. */
  function selectedPairs() {
    return eachReport((stats, index, pc) => {
      if (pc.connectionState === 'closed') return [];
      let pair = null;
      stats.forEach((s) => {
        if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
      });
      const local = pair && stats.get(pair.localCandidateId);
      const remote = pair && stats.get(pair.remoteCandidateId);
      return [{
        pc: index,
        state: pc.connectionState,
        localType: local?.candidateType,
        relayProtocol: local?.relayProtocol,
        protocol: local?.protocol,
        remoteType: remote?.candidateType,
        remoteProtocol: remote?.protocol,
        remoteAddress: remote?.address,
        remotePort: remote?.port,
        iceServers: pc.getConfiguration().iceServers?.map((s) => s.urls) ?? [],
      }];
    });
  }

  /** Every candidate pair whose connectivity checks succeeded, on every open peer connection. */
  function succeededPairs() {
    return eachReport((stats, index, pc) => {
      if (pc.connectionState === 'closed') return [];
      const out = [];
      stats.forEach((s) => {
        if (s.type !== 'candidate-pair' || s.state !== 'succeeded') return;
        const remote = stats.get(s.remoteCandidateId);
        out.push({ pc: index, remoteAddress: remote?.address, remoteProtocol: remote?.protocol });
      });
      return out;
    });
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
    /** space.submitAcrScore(score): the SDK posts it to window.MUX_SPACES_HELIOS_URL. */
    async submitAcrScore(score, timeoutMs = 10_000) {
      if (!space) return { ok: false, error: { name: 'HarnessError', message: 'not joined' } };
      try {
        await withTimeout(space.submitAcrScore(score), timeoutMs, 'submitAcrScore');
        return { ok: true };
      } catch (e) {
        return { ok: false, error: errorInfo(e) };
      }
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
      const p = remoteById(participantId);
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
    outboundStats,
    selectedPairs,
    succeededPairs,
    /**
     * Every frame `participantId`'s video element presents over `ms` (requestVideoFrameCallback):
     * {frames, fps, maxGapMs, gaps (those over 200 ms, as [atMs, gapMs]), sizes ([atMs, w, h] on
     * each change), startEpochMs}. Times are ms from the start of the watch; `startEpochMs` is
     * that start on the wall clock (performance.timeOrigin based), so that a test can place what
     * it did meanwhile (Date.now()) on the watch's timeline.
     * With `statsEveryMs`, also `stats`: the video's receive counters sampled that often, as
     * [atMs, {decoded, keyframes, nacks, plis, lost, rtx, dropped, width}] (cumulative).
     */
    async watchFrames(participantId, ms, { statsEveryMs = 0 } = {}) {
      const p = remoteById(participantId);
      const tid = p && [...p.videoTracks.values()].map((t) => t.tid).find((t) => elements.has(t));
      const el = tid && elements.get(tid);
      if (!el || typeof el.requestVideoFrameCallback !== 'function') return { frames: 0, note: 'no video element' };
      const start = performance.now();
      const times = [];
      const sizes = [];
      const stats = [];
      const trackIds = new Set([...p.videoTracks.values()].map((t) => t.track?.id).filter(Boolean));
      const sample = async () => {
        const at = Math.round(performance.now() - start);
        const video = (await inboundStats()).filter((s) => s.kind === 'video' && trackIds.has(s.trackIdentifier));
        const sum = (key) => video.reduce((n, s) => n + (s[key] ?? 0), 0);
        stats.push([
          at,
          {
            decoded: sum('framesDecoded'),
            keyframes: sum('keyFramesDecoded'),
            nacks: sum('nackCount'),
            plis: sum('pliCount'),
            lost: sum('packetsLost'),
            rtx: sum('retransmittedPacketsReceived'),
            dropped: sum('framesDropped'),
            width: Math.max(0, ...video.map((s) => s.frameWidth ?? 0)),
          },
        ]);
      };
      const sampler = statsEveryMs > 0 ? setInterval(sample, statsEveryMs) : null;
      await new Promise((resolve) => {
        const onFrame = (now, meta) => {
          const t = now - start;
          if (t >= ms) return resolve();
          if (t >= 0) {
            times.push(t);
            const last = sizes[sizes.length - 1];
            if (!last || last[1] !== meta.width || last[2] !== meta.height) sizes.push([Math.round(t), meta.width, meta.height]);
          }
          el.requestVideoFrameCallback(onFrame);
        };
        el.requestVideoFrameCallback(onFrame);
        setTimeout(resolve, ms + 50);
      });
      if (sampler) {
        clearInterval(sampler);
        await sample();
      }
      const points = [0, ...times, ms];
      const gaps = [];
      let maxGapMs = 0;
      for (let i = 1; i < points.length; i++) {
        const gap = points[i] - points[i - 1];
        maxGapMs = Math.max(maxGapMs, gap);
        if (gap > 200) gaps.push([Math.round(points[i - 1]), Math.round(gap)]);
      }
      const startEpochMs = Math.round(performance.timeOrigin + start);
      const watched = { frames: times.length, fps: (times.length * 1000) / ms, maxGapMs: Math.round(maxGapMs), gaps, sizes, startEpochMs };
      return sampler ? { ...watched, stats } : watched;
    },
    publishCameraAndMic(timeoutMs = 15000) {
      return publish({ video: true, audio: true }, 'camera+microphone', timeoutMs);
    },
    /** LocalParticipant.unpublishTracks() of the published tracks with these tids. */
    unpublish(tids) {
      const tracks = tids.map((tid) => published.find((t) => t.tid === tid));
      if (tracks.some((t) => !t)) return { ok: false, error: { name: 'HarnessError', message: `unknown tid in ${JSON.stringify(tids)}` } };
      try {
        space.localParticipant.unpublishTracks(tracks);
      } catch (e) {
        return { ok: false, error: errorInfo(e) };
      }
      for (const t of tracks) published.splice(published.indexOf(t), 1);
      return { ok: true };
    },
    /** LocalTrack.mute() / unMute() of a published track. */
    mute(tid, muted = true) {
      const track = published.find((t) => t.tid === tid);
      if (!track) return { ok: false, error: { name: 'HarnessError', message: `unknown tid ${tid}` } };
      try {
        if (muted) track.mute();
        else track.unMute();
      } catch (e) {
        return { ok: false, error: errorInfo(e) };
      }
      return { ok: true, muted: track.muted };
    },
    /** localParticipant.publishCustomEvent(payload) → {ok, value, ms} | {ok:false, error}. */
    async customEvent(payload, timeoutMs = 10000) {
      const t0 = performance.now();
      try {
        const value = await withTimeout(space.localParticipant.publishCustomEvent(payload), timeoutMs, 'publishCustomEvent');
        return { ok: true, value: summarize(value), ms: Math.round(performance.now() - t0) };
      } catch (e) {
        return { ok: false, error: errorInfo(e), ms: Math.round(performance.now() - t0) };
      }
    },
    /** localParticipant.setDisplayName(name) → {ok, displayName} | {ok:false, error}. */
    async setDisplayName(name, timeoutMs = 10000) {
      try {
        const lp = await withTimeout(space.localParticipant.setDisplayName(name), timeoutMs, 'setDisplayName');
        return { ok: true, displayName: lp.displayName, same: lp === space.localParticipant };
      } catch (e) {
        return { ok: false, error: errorInfo(e) };
      }
    },
    /** RemoteParticipant.subscribe() / unsubscribe() (MANUAL mode). */
    async subscribe(participantId, subscribe = true, timeoutMs = 10000) {
      const p = remoteById(participantId);
      if (!p) return { ok: false, error: { name: 'HarnessError', message: `no remote participant ${participantId}` } };
      try {
        await withTimeout(subscribe ? p.subscribe() : p.unsubscribe(), timeoutMs, subscribe ? 'subscribe()' : 'unsubscribe()');
        return { ok: true, subscribed: p.isSubscribed() };
      } catch (e) {
        return { ok: false, error: errorInfo(e), subscribed: p.isSubscribed() };
      }
    },
    /**
     * Signaling frames recorded by ws-tap.js: [{seq, t, socket, dir, data}]. SDP strings are cut
     * to their first `sdpChars` characters unless `sdpChars` is null.
     */
    signalFrames({ since = 0, sdpChars = 0 } = {}) {
      const cut = (v, depth = 0) => {
        if (typeof v === 'string') return sdpChars !== null && v.startsWith('v=0') && v.length > sdpChars ? `${v.slice(0, sdpChars)}…[${v.length} chars]` : v;
        if (!v || typeof v !== 'object' || depth > 6) return v;
        if (Array.isArray(v)) return v.map((x) => cut(x, depth + 1));
        const out = {};
        for (const [k, x] of Object.entries(v)) out[k] = cut(x, depth + 1);
        return out;
      };
      return window.__orielFrames.filter((f) => f.seq > since).map((f) => ({ ...f, data: cut(f.data) }));
    },
    /** Every WebSocket the page opened: [{index, url, readyState, openedAt, closedAt, closeCode, closeReason}]. */
    sockets() {
      return window.__orielSockets.map((s, index) => ({
        index,
        url: s.url,
        readyState: s.ws.readyState,
        openedAt: s.openedAt,
        closedAt: s.closedAt,
        closeCode: s.closeCode,
        closeReason: s.closeReason,
      }));
    },
    /**
     * Closes the SDK's open signaling socket from the page, with `code` (the SDK sees a close that
     * is not 4000 and reconnects, as after a network drop).
     */
    dropSignalSocket(code = 1000, reason = 'e2e drop') {
      const open = window.__orielSockets.filter((s) => s.url.includes('/pluto/v1') && s.ws.readyState === WebSocket.OPEN);
      if (open.length !== 1) return { ok: false, error: { name: 'HarnessError', message: `${open.length} open signaling sockets` } };
      open[0].ws.close(code, reason);
      return { ok: true, index: window.__orielSockets.indexOf(open[0]) };
    },
    /**
     * Audio levels as Chromium measures them: what each publisher PC's microphone source captures
     * (media-source audioLevel) and what each inbound audio stream plays (inbound-rtp audioLevel),
     * linear 0..1, with dBov = 20·log10(level).
     */
    async audioLevels() {
      const out = [];
      for (const [index, { pc }] of window.__orielPeerConnections.entries()) {
        let report;
        try {
          report = await pc.getStats();
        } catch {
          continue;
        }
        report.forEach((s) => {
          if (s.kind !== 'audio' || (s.type !== 'media-source' && s.type !== 'inbound-rtp')) return;
          if (typeof s.audioLevel !== 'number') return;
          out.push({
            pc: index,
            type: s.type,
            trackIdentifier: s.trackIdentifier,
            audioLevel: s.audioLevel,
            dBov: s.audioLevel > 0 ? Math.round(20 * Math.log10(s.audioLevel) * 10) / 10 : -127,
            totalAudioEnergy: s.totalAudioEnergy,
            totalSamplesDuration: s.totalSamplesDuration,
          });
        });
      }
      return out;
    },
    /**
     * What the published microphone `tid` sends, measured on its MediaStreamTrack (after Chromium's
     * audio processing, as the encoder gets it) for `ms` milliseconds with WebAudio: the RMS of
     * each 20 ms in -dBov (RFC 6464 terms: 0 loudest, 127 silence), and that level smoothed like
     * oriel's active-speaker detector (moving average with a 300 ms time constant, starting from
     * silence). {levels, minLevel, minSmoothed, smoothedTail, framesLouderThan50}.
     */
    async micLevels(tid, ms = 3000) {
      const track = published.find((t) => t.tid === tid);
      if (!track) return { error: `unknown tid ${tid}` };
      const ctx = new AudioContext({ sampleRate: 48000 });
      await ctx.resume();
      const source = ctx.createMediaStreamSource(new MediaStream([track.track]));
      const node = ctx.createScriptProcessor(1024, 1, 1);
      const samples = [];
      node.onaudioprocess = (e) => samples.push(...e.inputBuffer.getChannelData(0));
      source.connect(node);
      node.connect(ctx.destination);
      await new Promise((r) => setTimeout(r, ms));
      node.disconnect();
      source.disconnect();
      await ctx.close();
      const levels = [];
      for (let i = 0; i + 960 <= samples.length; i += 960) {
        let sum = 0;
        for (let j = i; j < i + 960; j++) sum += samples[j] * samples[j];
        const rms = Math.sqrt(sum / 960);
        levels.push(rms > 0 ? Math.min(127, Math.round(-20 * Math.log10(rms))) : 127);
      }
      const alpha = 1 - Math.exp(-0.02 / 0.3);
      let level = 127;
      let minSmoothed = 127;
      const smoothed = [];
      for (const l of levels) {
        level += (l - level) * alpha;
        minSmoothed = Math.min(minSmoothed, level);
        smoothed.push(Math.round(level));
      }
      return {
        levels: levels.join(','),
        minLevel: Math.min(...levels),
        minSmoothed: Math.round(minSmoothed * 10) / 10,
        smoothedTail: smoothed.slice(-50).join(','),
        framesLouderThan50: levels.filter((l) => l < 50).length,
        frames: levels.length,
      };
    },
    /**
     * A real offer from a peer connection outside the SDK (native constructor, not recorded by
     * pc-tap.js): the fake camera and microphone as sendonly transceivers. {sdp, mids:[{mid, kind}]}.
     */
    async makeOffer() {
      const pc = new window.__orielNativeRTCPeerConnection();
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
      for (const track of stream.getTracks()) pc.addTransceiver(track, { direction: 'sendonly' });
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      const mids = pc.getTransceivers().map((t) => ({ mid: t.mid, kind: t.sender.track.kind }));
      const sdp = pc.localDescription.sdp;
      pc.close();
      for (const track of stream.getTracks()) track.stop();
      return { sdp, mids };
    },
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
