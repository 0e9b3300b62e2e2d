// What the SDK needs from its host, looked up when used (not when the module loads), so that
// a page can wrap `WebSocket` or `RTCPeerConnection` first and a test can install fakes on
// `globalThis` (the state machine runs in Node with no DOM at all).

/** The part of the WebSocket API the SDK uses. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: any) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export interface Runtime {
  createWebSocket(url: string): WebSocketLike;
  createPeerConnection(config: RTCConfiguration): RTCPeerConnection;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  uuid(): string;
}

const g = globalThis as any;

function uuid(): string {
  const c = g.crypto;
  if (c && typeof c.randomUUID === 'function') {
    try {
      return c.randomUUID();
    } catch {
      // randomUUID exists but refuses outside secure contexts in some browsers
    }
  }
  const bytes = new Uint8Array(16);
  if (c && typeof c.getRandomValues === 'function') c.getRandomValues(bytes);
  else for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The browser (or whatever `globalThis` holds). */
export const defaultRuntime: Runtime = {
  createWebSocket(url) {
    if (typeof g.WebSocket !== 'function') throw new Error('WebSocket is not available');
    return new g.WebSocket(url);
  },
  createPeerConnection(config) {
    if (typeof g.RTCPeerConnection !== 'function') throw new Error('RTCPeerConnection is not available');
    return new g.RTCPeerConnection(config);
  },
  setTimeout: (fn, ms) => g.setTimeout(fn, ms),
  clearTimeout: (handle) => g.clearTimeout(handle),
  uuid,
};

/** `window.X` if there is a window. */
export function windowValue(name: string): unknown {
  return typeof g.window === 'object' && g.window ? g.window[name] : g[name];
}
