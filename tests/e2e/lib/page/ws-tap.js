// Keeps a reference to every WebSocket the page opens and records the signaling frames both ways,
// so that a test can read what went over the wire and drop the SDK's socket itself (the SDK never
// exposes it). Loaded before mux-spaces.js, like pc-tap.js.
//
// window.__orielSockets: [{ws, url, openedAt, closedAt, closeCode, closeReason}]
// window.__orielFrames:  [{seq, t, socket (index), dir: 'in'|'out', data (parsed JSON or the raw string)}]
(() => {
  const Native = window.WebSocket;
  const sockets = [];
  const frames = [];
  let seq = 0;
  const started = performance.now();
  const MAX_FRAMES = 5000;

  function record(socket, dir, raw) {
    let data = raw;
    if (typeof raw === 'string') {
      try {
        data = JSON.parse(raw);
      } catch {
        // keep the string
      }
    } else {
      data = `[${Object.prototype.toString.call(raw)}]`;
    }
    frames.push({ seq: ++seq, t: Math.round(performance.now() - started), socket, dir, data });
    if (frames.length > MAX_FRAMES) frames.shift();
  }

  class TappedWebSocket extends Native {
    constructor(...args) {
      super(...args);
      const entry = { ws: this, url: String(args[0]), openedAt: Math.round(performance.now() - started), closedAt: null, closeCode: null, closeReason: null };
      const index = sockets.push(entry) - 1;
      this.addEventListener('message', (ev) => record(index, 'in', ev.data));
      this.addEventListener('close', (ev) => {
        entry.closedAt = Math.round(performance.now() - started);
        entry.closeCode = ev.code;
        entry.closeReason = ev.reason;
      });
      this.__orielIndex = index;
    }

    send(data) {
      record(this.__orielIndex, 'out', data);
      return super.send(data);
    }
  }
  window.WebSocket = TappedWebSocket;
  window.__orielSockets = sockets;
  window.__orielFrames = frames;
})();
