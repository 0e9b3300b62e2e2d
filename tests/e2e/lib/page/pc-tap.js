// Keeps a reference to every RTCPeerConnection the page creates, so that the test can read
// getStats() on the SDK's subscriber and publisher connections (the SDK never exposes them).
// Loaded before mux-spaces.js. The subclass keeps the native prototype chain, so the SDK's
// bundled webrtc-adapter shims it as it would the native constructor.
(() => {
  const Native = window.RTCPeerConnection;
  const pcs = [];
  class TappedRTCPeerConnection extends Native {
    constructor(...args) {
      super(...args);
      pcs.push({ pc: this, createdAt: performance.now(), config: args[0] });
    }
  }
  window.RTCPeerConnection = TappedRTCPeerConnection;
  if (window.webkitRTCPeerConnection) window.webkitRTCPeerConnection = TappedRTCPeerConnection;
  window.__orielPeerConnections = pcs;
  window.__orielNativeRTCPeerConnection = Native;
})();
