import { ConnectionError, JWTError } from '../errors/externalErrors';
import { windowValue } from '../runtime';

/** The claims the SDK reads from the join token (it never verifies it: the server does). */
export interface JwtClaims {
  sub?: string;
  role?: string;
  participant_id?: string;
}

/** Decodes the payload of a JWT without verifying it. */
export function parseJwt(token: string): JwtClaims {
  if (typeof token !== 'string') throw new JWTError('The join token must be a string');
  const parts = token.split('.');
  if (parts.length !== 3) throw new JWTError('The join token is not a JWT');
  try {
    const base64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const padded = base64 + '='.repeat((4 - (base64.length % 4)) % 4);
    const binary = atob(padded);
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    const claims: unknown = JSON.parse(new TextDecoder().decode(bytes));
    if (typeof claims !== 'object' || claims === null) throw new Error('not an object');
    return claims as JwtClaims;
  } catch {
    throw new JWTError('The join token payload cannot be read');
  }
}

export function isAutomaticParticipantLimitValid(limit: number): boolean {
  return Number.isInteger(limit) && limit >= 1 && limit <= 20;
}

/**
 * The signaling base when the SDK was loaded as `<script src=".../sdk/spaces.js">`: the server
 * that served it. Captured while the script runs (document.currentScript is only set then).
 */
const scriptBackend: string | undefined = (() => {
  try {
    const doc = (globalThis as any).document;
    const src = doc?.currentScript?.src;
    if (typeof src !== 'string' || !src) return undefined;
    const url = new URL(src);
    if (!/\/sdk\/spaces\.js$/.test(url.pathname)) return undefined;
    return `${url.protocol === 'https:' ? 'wss:' : 'ws:'}//${url.host}/pluto`;
  } catch {
    return undefined;
  }
})();

/**
 * The signaling base URL: the `backendUrl` option, else `window.MUX_SPACES_BACKEND_URL`, else
 * the server that served the SDK script. `http(s)` becomes `ws(s)`; a trailing `/` or `/v1` is
 * dropped (the SDK appends `/v1?...`).
 */
export function resolveBackendUrl(option: string | undefined): string {
  const candidates = [option, windowValue('MUX_SPACES_BACKEND_URL'), scriptBackend];
  const found = candidates.find((c): c is string => typeof c === 'string' && c.trim().length > 0);
  if (!found) {
    throw new ConnectionError('No Oriel server to connect to: pass the backendUrl option or set window.MUX_SPACES_BACKEND_URL');
  }
  let base = found.trim().replace(/\/+$/, '');
  base = base.replace(/^http(s?):\/\//i, 'ws$1://');
  base = base.replace(/\/v1$/, '');
  if (!/^wss?:\/\//i.test(base)) throw new ConnectionError(`Not a WebSocket URL: ${found}`);
  return base;
}
