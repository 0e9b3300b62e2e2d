// Lets a test make the SDK's next signaling sockets fail, as if the server were unreachable:
// while `window.__orielSignal.block()` is in effect, a new WebSocket to /pluto/v1 is opened to a
// closed port instead (it fails at once, code 1006). Loaded after ws-tap.js, so the attempts
// are still recorded there (with the real URL the SDK asked for, in `attempts`).
(() => {
  const Tapped = window.WebSocket;
  const state = { blocked: false, attempts: [] };
  class ControlledWebSocket extends Tapped {
    constructor(url, ...rest) {
      const target = String(url);
      const signaling = target.includes('/pluto/v1');
      if (signaling) state.attempts.push({ url: target, blocked: state.blocked, t: Math.round(performance.now()) });
      super(signaling && state.blocked ? 'ws://127.0.0.1:9/pluto/v1?blocked' : url, ...rest);
    }
  }
  window.WebSocket = ControlledWebSocket;
  window.__orielSignal = {
    block() {
      state.blocked = true;
    },
    unblock() {
      state.blocked = false;
    },
    attempts() {
      return state.attempts.slice();
    },
  };
})();
