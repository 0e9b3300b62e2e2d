// Node side of one participant: a Chromium page running the unmodified @mux/spaces-web SDK,
// driven through window.oriel (lib/page/harness.js).

const POLL_MS = 50;

export class Participant {
  constructor(name, context, page) {
    this.name = name;
    this.context = context;
    this.page = page;
    this.consoleErrors = [];
    this.consoleLog = [];
    this.pageErrors = [];
    this.externalRequests = [];
    this.closed = false;
    page.on('console', (msg) => {
      const line = `[${msg.type()}] ${msg.text()}`;
      this.consoleLog.push(line);
      if (this.consoleLog.length > 500) this.consoleLog.shift();
      if (msg.type() === 'error') this.consoleErrors.push(msg.text());
    });
    page.on('pageerror', (err) => this.pageErrors.push(`${err.name}: ${err.message}`));
    page.on('crash', () => this.pageErrors.push('page crashed'));
  }

  /**
   * new MuxSpaces.Space(jwt, options) + join(). Resolves with
   * {ok:true, localParticipant, sessionId} or {ok:false, stage, error:{name, constructorName,
   * message, code, isJWTError, isMuxError}}. A join() that never settles (the SDK has no timeout)
   * resolves as {ok:false, error:{name:'HarnessTimeout'}} after `timeoutMs`.
   */
  join(jwt, options = null, { timeoutMs = 10_000 } = {}) {
    return this.page.evaluate(([jwt, options, timeoutMs]) => window.oriel.join(jwt, options, timeoutMs), [jwt, options, timeoutMs]);
  }

  leave() {
    return this.page.evaluate(() => window.oriel.leave());
  }

  /** space.submitAcrScore(score) of the unmodified SDK → {ok} | {ok:false, error}. */
  submitAcrScore(score) {
    return this.call('submitAcrScore', score);
  }

  /** Every SpaceEvent so far: [{seq, t (ms since page load), name, args (summarised)}]. */
  events(since = 0) {
    return this.page.evaluate((since) => window.oriel.events(since), since);
  }

  /** Resolves with the first event named `name` for which `predicate(event)` holds. */
  async waitForEvent(name, predicate = () => true, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const events = await this.events();
      const hit = events.find((e) => e.name === name && predicate(e));
      if (hit) return hit;
      if (Date.now() > deadline) {
        throw new Error(
          `${this.name}: no ${name} event within ${timeoutMs} ms; events so far: ${JSON.stringify(events.map((e) => e.name))}`,
        );
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  localParticipant() {
    return this.page.evaluate(() => window.oriel.localParticipant());
  }

  remoteParticipants() {
    return this.page.evaluate(() => window.oriel.remoteParticipants());
  }

  /** MuxSpaces.getUserMedia({video:true}) (the fake camera) + publishTracks. */
  publishCamera(timeoutMs = 15_000) {
    return this.page.evaluate((ms) => window.oriel.publishCamera(ms), timeoutMs);
  }

  /** MuxSpaces.getUserMedia({audio:true}) (the fake microphone) + publishTracks. */
  publishMic(timeoutMs = 15_000) {
    return this.page.evaluate((ms) => window.oriel.publishMic(ms), timeoutMs);
  }

  /** {framesDecoded, tracks} of `participantId`'s video as this page receives it (getStats). */
  framesDecoded(participantId) {
    return this.page.evaluate((id) => window.oriel.framesDecoded(id), participantId);
  }

  /** Polls framesDecoded until at least `min` frames of `participantId` were decoded. */
  async waitForFrames(participantId, min = 10, timeoutMs = 15_000) {
    const deadline = Date.now() + timeoutMs;
    let last;
    for (;;) {
      last = await this.framesDecoded(participantId);
      if (last.framesDecoded >= min) return last;
      if (Date.now() > deadline) {
        throw new Error(`${this.name}: only ${last.framesDecoded} frames of ${participantId} decoded in ${timeoutMs} ms: ${JSON.stringify(last)}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** window.oriel[method](...args) in the page. */
  call(method, ...args) {
    return this.page.evaluate(([method, args]) => window.oriel[method](...args), [method, args]);
  }

  /** The fake camera and microphone in one getUserMedia + one publishTracks (one offer). */
  publishCameraAndMic(timeoutMs = 15_000) {
    return this.call('publishCameraAndMic', timeoutMs);
  }

  unpublish(tids) {
    return this.call('unpublish', tids);
  }

  mute(tid) {
    return this.call('mute', tid, true);
  }

  unmute(tid) {
    return this.call('mute', tid, false);
  }

  /** publishCustomEvent → {ok, value, ms} | {ok:false, error}. */
  customEvent(payload, timeoutMs = 10_000) {
    return this.call('customEvent', payload, timeoutMs);
  }

  setDisplayName(name, timeoutMs = 10_000) {
    return this.call('setDisplayName', name, timeoutMs);
  }

  /** remoteParticipant.subscribe() (MANUAL mode) of `participantId`. */
  subscribe(participantId, timeoutMs = 10_000) {
    return this.call('subscribe', participantId, true, timeoutMs);
  }

  unsubscribe(participantId, timeoutMs = 10_000) {
    return this.call('subscribe', participantId, false, timeoutMs);
  }

  /** Signaling frames both ways (lib/page/ws-tap.js), SDP cut short. */
  signalFrames(since = 0) {
    return this.call('signalFrames', { since });
  }

  /** Incoming frames whose message key is `key` (e.g. 'track_muted'), as {seq, t, socket, value, request_id}. */
  async received(key) {
    const frames = await this.signalFrames();
    return frames
      .filter((f) => f.dir === 'in' && f.data && typeof f.data === 'object' && key in f.data)
      .map((f) => ({ seq: f.seq, t: f.t, socket: f.socket, value: f.data[key], request_id: f.data.request_id }));
  }

  sockets() {
    return this.call('sockets');
  }

  /** Closes the SDK's signaling socket from inside the page (code 1000 by default). */
  dropSignalSocket(code = 1000, reason = 'e2e drop') {
    return this.call('dropSignalSocket', code, reason);
  }

  audioLevels() {
    return this.call('audioLevels');
  }

  /** The published microphone's levels as oriel's detector would smooth them (harness.js). */
  micLevels(tid, ms = 3000) {
    return this.call('micLevels', tid, ms);
  }

  /** A real offer SDP made by a PC outside the SDK: {sdp, mids}. */
  makeOffer() {
    return this.call('makeOffer');
  }

  /** Frames presented by `participantId`'s video element over `ms` (harness.js watchFrames). */
  watchFrames(participantId, ms, options = {}) {
    return this.page.evaluate(([id, ms, options]) => window.oriel.watchFrames(id, ms, options), [participantId, ms, options]);
  }

  inboundStats() {
    return this.page.evaluate(() => window.oriel.inboundStats());
  }

  /** Every open peer connection's selected candidate pair (types, protocols, addresses). */
  selectedPairs() {
    return this.page.evaluate(() => window.oriel.selectedPairs());
  }

  /** Every candidate pair whose connectivity checks succeeded (remote address and protocol). */
  succeededPairs() {
    return this.page.evaluate(() => window.oriel.succeededPairs());
  }

  /** Every outbound video stream (a simulcast layer each) of this page (getStats). */
  outboundStats() {
    return this.page.evaluate(() => window.oriel.outboundStats());
  }

  peerConnections() {
    return this.page.evaluate(() => window.oriel.peerConnections());
  }

  /** A text block for failure reports: events, console errors, page errors, blocked requests. */
  async report() {
    let events = '[page gone]';
    let pcs = '';
    if (!this.closed) {
      try {
        events = JSON.stringify(await this.events(), null, 0);
        pcs = JSON.stringify(await this.peerConnections());
      } catch (e) {
        events = `[cannot read events: ${e.message}]`;
      }
    }
    return [
      `----- participant ${this.name} -----`,
      `events: ${events}`,
      pcs && `peer connections: ${pcs}`,
      this.diagnostics(),
    ]
      .filter(Boolean)
      .join('\n');
  }

  /** The synchronous part of report(). */
  diagnostics() {
    return [
      `console errors (${this.name}): ${JSON.stringify(this.consoleErrors)}`,
      `page errors (${this.name}): ${JSON.stringify(this.pageErrors)}`,
      this.externalRequests.length ? `blocked external requests (${this.name}): ${JSON.stringify(this.externalRequests)}` : '',
      this.consoleLog.length ? `console tail (${this.name}):\n  ${this.consoleLog.slice(-30).join('\n  ')}` : `console (${this.name}): empty`,
    ]
      .filter(Boolean)
      .join('\n');
  }

  async close() {
    if (this.closed) return;
    this.closed = true;
    await this.context.close().catch(() => {});
  }
}
