// Fakes for running Oriel's Web SDK in Node with no DOM: a scripted signaling server behind a
// fake `WebSocket`, and a fake `RTCPeerConnection` that speaks a tiny SDP dialect of its own.
// They are installed on globalThis, where the SDK looks for its host (src/runtime.ts).
//
// Fake SDP: one line per m-section, `m=<audio|video> mid=<mid> dir=<direction> msid=<tid>`.
// The fake server builds subscriber offers with `offer([{mid, kind, tid, direction}])`.

let nextId = 0;
const flush = () => new Promise((r) => setImmediate(r));

export class FakeTrack {
  constructor(kind, { width = 640, height = 480, label } = {}) {
    this.id = `track-${++nextId}`;
    this.kind = kind;
    this.label = label ?? `${kind} ${nextId}`;
    this.enabled = true;
    this.muted = false;
    this.readyState = 'live';
    this.settings = kind === 'video' ? { width, height, deviceId: 'cam-1' } : { deviceId: 'mic-1' };
    this.listeners = {};
  }
  getSettings() {
    return { ...this.settings };
  }
  stop() {
    this.readyState = 'ended';
  }
  /** What the browser does when the user stops a screen capture. */
  end() {
    this.readyState = 'ended';
    for (const fn of this.listeners.ended ?? []) fn({ type: 'ended' });
  }
  addEventListener(type, fn) {
    (this.listeners[type] ??= []).push(fn);
  }
  removeEventListener(type, fn) {
    this.listeners[type] = (this.listeners[type] ?? []).filter((f) => f !== fn);
  }
}

class FakeStream {
  constructor(id, tracks) {
    this.id = id;
    this.tracks = [...tracks];
    this.listeners = {};
  }
  getTracks() {
    return [...this.tracks];
  }
  addEventListener(type, fn) {
    (this.listeners[type] ??= []).push(fn);
  }
  removeTrack(track) {
    this.tracks = this.tracks.filter((t) => t !== track);
    for (const fn of this.listeners.removetrack ?? []) fn({ track });
  }
}

export class FakePeerConnection {
  static all = [];
  constructor(config) {
    this.config = config;
    this.transceivers = [];
    this.signalingState = 'stable';
    this.iceConnectionState = 'new';
    this.connectionState = 'new';
    this.localDescription = null;
    this.remoteDescription = null;
    this.addedCandidates = [];
    this.closed = false;
    this.listeners = {};
    this.offers = 0;
    this.onicecandidate = null;
    this.ontrack = null;
    this.oniceconnectionstatechange = null;
    FakePeerConnection.all.push(this);
  }
  addEventListener(type, fn) {
    (this.listeners[type] ??= []).push(fn);
  }
  dispatch(type) {
    for (const fn of this.listeners[type] ?? []) fn({ type });
  }
  addTransceiver(track, init) {
    const t = {
      mid: null,
      kind: track.kind,
      direction: init.direction,
      currentDirection: null,
      sendEncodings: init.sendEncodings,
      sender: {
        track,
        replaceTrack: async (next) => {
          t.sender.track = next;
        },
      },
      receiver: null,
    };
    this.transceivers.push(t);
    return t;
  }
  removeTrack(sender) {
    const t = this.transceivers.find((x) => x.sender === sender);
    if (t) {
      t.sender.track = null;
      t.direction = 'inactive';
    }
  }
  getTransceivers() {
    return [...this.transceivers];
  }
  sdp() {
    return this.transceivers.map((t) => `m=${t.kind} mid=${t.mid} dir=${t.direction} msid=-`).join('\n');
  }
  async createOffer(options = {}) {
    this.assertOpen();
    this.offers++;
    this.lastOfferIceRestart = !!options.iceRestart;
    let mid = this.transceivers.filter((t) => t.mid !== null).length;
    for (const t of this.transceivers) if (t.mid === null) t.pendingMid = String(mid++);
    return { type: 'offer', sdp: this.transceivers.map((t) => `m=${t.kind} mid=${t.mid ?? t.pendingMid} dir=${t.direction} msid=-`).join('\n') + (options.iceRestart ? '\nice-restart' : '') };
  }
  async createAnswer() {
    this.assertOpen();
    return { type: 'answer', sdp: `answer\n${this.transceivers.map((t) => `m=${t.kind} mid=${t.mid} dir=${t.remoteDirection === 'sendonly' ? 'recvonly' : 'inactive'}`).join('\n')}` };
  }
  async setLocalDescription(desc) {
    this.assertOpen();
    await flush();
    if (desc.type === 'offer') {
      for (const t of this.transceivers) if (t.mid === null) t.mid = t.pendingMid;
      this.signalingState = 'have-local-offer';
    } else {
      for (const t of this.transceivers) t.currentDirection = t.remoteDirection === 'sendonly' ? 'recvonly' : 'inactive';
      this.signalingState = 'stable';
    }
    this.localDescription = desc;
  }
  async setRemoteDescription(desc) {
    this.assertOpen();
    await flush();
    if (desc.sdp.startsWith('garbage')) throw new Error('Failed to parse SessionDescription');
    this.remoteDescription = desc;
    if (desc.type === 'answer') {
      for (const t of this.transceivers) t.currentDirection = t.direction;
      this.signalingState = 'stable';
      return;
    }
    this.signalingState = 'have-remote-offer';
    for (const line of desc.sdp.split('\n')) {
      const m = /^m=(\w+) mid=(\S+) dir=(\S+) msid=(\S+)$/.exec(line);
      if (!m) continue;
      const [, kind, mid, direction, tid] = m;
      let t = this.transceivers.find((x) => x.mid === mid);
      if (!t) {
        t = { mid, kind, direction: 'recvonly', currentDirection: null, receiver: { track: new FakeTrack(kind) }, sender: { track: null } };
        this.transceivers.push(t);
      }
      const before = { direction: t.remoteDirection, tid: t.remoteTid };
      t.remoteDirection = direction;
      t.remoteTid = tid;
      if (direction === 'sendonly' && (before.direction !== 'sendonly' || before.tid !== tid)) {
        const stream = new FakeStream(tid, [t.receiver.track]);
        t.stream = stream;
        this.ontrack?.({ track: t.receiver.track, streams: [stream], transceiver: t });
      } else if (direction !== 'sendonly' && before.direction === 'sendonly' && this.fireRemoveTrack !== false) {
        t.stream?.removeTrack(t.receiver.track);
      }
    }
  }
  async addIceCandidate(c) {
    if (!this.remoteDescription) throw new Error('The remote description was null');
    this.addedCandidates.push(c);
  }
  /** The browser found a local candidate. */
  emitCandidate(candidate) {
    this.onicecandidate?.({ candidate: { toJSON: () => candidate } });
  }
  setIceState(state) {
    this.iceConnectionState = state;
    this.oniceconnectionstatechange?.();
  }
  setConnectionState(state) {
    this.connectionState = state;
    this.dispatch('connectionstatechange');
  }
  close() {
    this.closed = true;
    this.signalingState = 'closed';
  }
  assertOpen() {
    if (this.closed) throw new Error('The RTCPeerConnection is closed');
  }
}

/** A server-side view of one client socket. */
export class FakeConnection {
  constructor(server, ws, url) {
    this.server = server;
    this.ws = ws;
    this.url = new URL(url);
    this.received = [];
    this.waiters = [];
    this.closedWith = null;
  }
  get query() {
    return Object.fromEntries(this.url.searchParams);
  }
  /** Server → client (an object is sent as JSON). */
  send(message) {
    const data = typeof message === 'string' ? message : JSON.stringify(message);
    this.ws.deliver({ data });
  }
  /** The server closes the socket. */
  close(code = 1006, reason = '') {
    this.ws.serverClose(code, reason);
  }
  /** Client messages with key `key` so far. */
  messages(key) {
    return key ? this.received.filter((m) => key in m) : this.received;
  }
  /** The first client message (received so far or later) with `predicate`. */
  waitFor(predicate, what = 'a message') {
    const hit = this.received.find(predicate);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const timer = setTimeoutReal(() => reject(new Error(`no ${what}; got ${JSON.stringify(this.received.map((m) => Object.keys(m)[0]))}`)), 2000);
      this.waiters.push({ predicate, resolve: (m) => (clearTimeoutReal(timer), resolve(m)) });
    });
  }
  onClientMessage(m) {
    this.received.push(m);
    for (const w of [...this.waiters]) {
      if (w.predicate(m)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  }
}

const setTimeoutReal = globalThis.setTimeout;
const clearTimeoutReal = globalThis.clearTimeout;

export class FakeServer {
  constructor() {
    this.connections = [];
    this.waiters = [];
    this.taken = 0;
    /** WebSockets made (accepted or not). */
    this.dials = 0;
    /** false: the next sockets fail to open (closed with 1006 right away). */
    this.accepting = true;
  }
  /** The next connection not handed out yet (already made or to come), or #index. */
  nextConnection(index = this.taken) {
    this.taken = Math.max(this.taken, index + 1);
    if (this.connections[index]) return Promise.resolve(this.connections[index]);
    return new Promise((resolve, reject) => {
      const timer = setTimeoutReal(() => reject(new Error(`no connection #${index}`)), 2000);
      this.waiters.push({ index, resolve: (c) => (clearTimeoutReal(timer), resolve(c)) });
    });
  }
  onConnect(ws, url) {
    const conn = new FakeConnection(this, ws, url);
    this.connections.push(conn);
    for (const w of [...this.waiters]) {
      if (w.index === this.connections.length - 1) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(conn);
      }
    }
    return conn;
  }
}

export function makeFakeWebSocket(server) {
  return class FakeWebSocket {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.onopen = this.onmessage = this.onclose = this.onerror = null;
      this.sent = [];
      server.dials++;
      if (!server.accepting) {
        queueMicrotask(() => this.serverClose(1006, ''));
        return;
      }
      this.conn = server.onConnect(this, url);
      queueMicrotask(() => {
        if (this.readyState !== 0) return;
        this.readyState = 1;
        this.onopen?.({});
      });
    }
    send(data) {
      if (this.readyState !== 1) throw new Error('InvalidStateError: not open');
      this.sent.push(data);
      this.conn?.onClientMessage(JSON.parse(data));
    }
    close(code = 1005, reason = '') {
      if (this.readyState >= 2) return;
      this.readyState = 3;
      if (this.conn) this.conn.closedWith = { code, reason, by: 'client' };
      queueMicrotask(() => this.onclose?.({ code, reason }));
    }
    deliver(ev) {
      if (this.readyState !== 1) return;
      this.onmessage?.(ev);
    }
    serverClose(code, reason) {
      if (this.readyState === 3) return;
      this.readyState = 3;
      if (this.conn) this.conn.closedWith = { code, reason, by: 'server' };
      this.onclose?.({ code, reason });
    }
  };
}

/** Installs the fakes on globalThis; returns {server, restore}. */
export function installFakes() {
  const server = new FakeServer();
  const saved = { WebSocket: globalThis.WebSocket, RTCPeerConnection: globalThis.RTCPeerConnection, window: globalThis.window };
  globalThis.WebSocket = makeFakeWebSocket(server);
  globalThis.RTCPeerConnection = FakePeerConnection;
  globalThis.window = { MUX_SPACES_BACKEND_URL: 'ws://oriel.test/pluto' };
  FakePeerConnection.all = [];
  return {
    server,
    restore() {
      Object.assign(globalThis, saved);
      if (saved.window === undefined) delete globalThis.window;
    },
  };
}

const b64url = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');

/** An (unsigned) join token: the SDK only reads it. */
export function jwt(claims = {}) {
  return `${b64url({ alg: 'RS256', typ: 'JWT' })}.${b64url({ sub: 'space-1', aud: 'rt', exp: 4102444800, ...claims })}.c2ln`;
}

/** A subscriber offer in the fake SDP dialect. */
export function offer(sections) {
  return sections.map((s) => `m=${s.kind} mid=${s.mid} dir=${s.direction ?? 'sendonly'} msid=${s.tid ?? '-'}`).join('\n');
}

export function joined(overrides = {}) {
  return {
    joined: {
      session_id: 'session-1',
      connection_id: 'conn-me',
      participant_id: 'me',
      display_name: '',
      broadcasting: false,
      participants: [],
      sub_sfus: [{ sfu_id: 'sfu-1', sdp: offer([]) }],
      simulcast: {
        camera_encodings: [
          { rid: 'q', max_bitrate: 150000, scale_resolution_down_by: 4, max_framerate: 0 },
          { rid: 'h', max_bitrate: 500000, scale_resolution_down_by: 2, max_framerate: 0 },
          { rid: 'f', max_bitrate: 1500000, scale_resolution_down_by: 1, max_framerate: 0 },
        ],
        screenshare_encodings: [],
      },
      ice_servers: [],
      limits: { custom_events_per_second: 5, default_track_limit: 2, seconds_per_set_display_name: 10 },
      watchrtc_token: '',
      ...overrides,
    },
  };
}

export const participant = (conn, { id = conn, name = '', role = 1, tracks = [] } = {}) => ({
  connection_id: conn,
  participant_id: id,
  role,
  status: 1,
  display_name: name,
  tracks,
});

export const wireTrack = (tid, type, source, extra = {}) => ({ tid, type, name: tid, muted: false, source, width: type === 2 ? 640 : 0, height: type === 2 ? 480 : 0, metadata: {}, ...extra });

export { flush };

/** Lets promise chains and queued microtasks/immediates run. */
export async function settle(rounds = 5) {
  for (let i = 0; i < rounds; i++) await flush();
}
