// A signaling client that is not the SDK: a plain `ws` WebSocket to /pluto/v1 with a real join
// token, for sending what the SDK never would (oversized payloads, bursts, garbage, a subscriber's
// offer) and reading exactly what the server answers.
//
//   const raw = await RawSignal.open(server.backendUrl, jwt);   // resolves once `joined` arrived
//   raw.send({ custom_event: { id: 'x', payload: 'hi', scope: 1 }, request_id: 'x' });
//   const err = await raw.next((m) => m.error, 2000);             // the first matching frame
//   raw.close();

import WebSocket from 'ws';

export class RawSignal {
  constructor(ws) {
    this.ws = ws;
    /** Every frame received: {t, data (parsed JSON, or {raw} when not JSON)}. */
    this.frames = [];
    this.closeInfo = null;
    this.waiters = new Set();
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        resolve(this.closeInfo);
        for (const w of this.waiters) w.check();
      });
    });
    ws.on('message', (data, isBinary) => {
      let parsed;
      try {
        parsed = isBinary ? { binary: data.length } : JSON.parse(data.toString());
      } catch {
        parsed = { raw: data.toString() };
      }
      this.frames.push({ t: Date.now(), data: parsed });
      for (const w of this.waiters) w.check();
    });
    ws.on('error', (e) => {
      this.lastError = e;
    });
  }

  /**
   * Opens a socket as the SDK would (same query parameters) and waits for the first frame.
   * Throws unless that frame is `joined` (pass `expectJoined: false` to get the first frame anyway).
   */
  static async open(backendUrl, jwt, { managedSubscriptions = 16, displayName, extraQuery = {}, expectJoined = true, timeoutMs = 5000 } = {}) {
    const params = new URLSearchParams({ token: jwt, sdk_version: 'web-1.2.0', managed_subscriptions: String(managedSubscriptions) });
    if (displayName) params.set('display_name', displayName);
    for (const [k, v] of Object.entries(extraQuery)) params.set(k, v);
    const ws = new WebSocket(`${backendUrl}/v1?${params}`, { perMessageDeflate: false, maxPayload: 4 * 1024 * 1024 });
    const raw = new RawSignal(ws);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const first = await raw.next(() => true, timeoutMs, 'the first frame');
    if (expectJoined && !first.joined) {
      raw.close();
      throw new Error(`raw socket: expected joined, got ${JSON.stringify(first).slice(0, 500)}`);
    }
    raw.joined = first.joined;
    return raw;
  }

  get connectionId() {
    return this.joined?.connection_id;
  }

  /** Frames received so far (parsed), optionally only those with key `key`. */
  messages(key) {
    const all = this.frames.map((f) => f.data);
    return key ? all.filter((m) => m && typeof m === 'object' && key in m) : all;
  }

  /** Sends a JSON message (an object) or a raw string/Buffer (`{binary:true}` for a binary frame). */
  send(message, { binary = false } = {}) {
    const data = typeof message === 'string' || Buffer.isBuffer(message) ? message : JSON.stringify(message);
    return new Promise((resolve, reject) => this.ws.send(data, { binary }, (e) => (e ? reject(e) : resolve())));
  }

  /**
   * The first frame received from now on... or already received after index `from` (default:
   * from the start) that satisfies `predicate`. Rejects after `timeoutMs`, or when the socket
   * closes first.
   */
  next(predicate, timeoutMs = 5000, what = 'a matching frame', { from = 0 } = {}) {
    return new Promise((resolve, reject) => {
      const waiter = {
        check: () => {
          for (let i = from; i < this.frames.length; i++) {
            if (predicate(this.frames[i].data)) {
              done();
              return resolve(this.frames[i].data);
            }
          }
          if (this.closeInfo) {
            done();
            reject(new Error(`raw socket closed (${JSON.stringify(this.closeInfo)}) before ${what}; frames: ${this.describe()}`));
          }
        },
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no ${what} within ${timeoutMs} ms; frames: ${this.describe()}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      this.waiters.add(waiter);
      waiter.check();
    });
  }

  /** A short text of the frames received, for assertion messages. */
  describe(max = 20) {
    return JSON.stringify(
      this.frames.slice(-max).map((f) => {
        const text = JSON.stringify(f.data);
        return text.length > 300 ? `${text.slice(0, 300)}…` : text;
      }),
    );
  }

  /** A normal close (1000); the TCP connection is torn down if the server does not answer in 1 s. */
  close() {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.close(1000);
      const timer = setTimeout(() => this.ws.terminate(), 1000);
      this.closed.then(() => clearTimeout(timer));
    }
    return this.closed;
  }

  /** Tears the TCP connection down without a close frame. */
  terminate() {
    this.ws.terminate();
    return this.closed;
  }
}
