// The dashboard's JSON API (/dashboard/api/...): session cookie plus the CSRF token on every
// unsafe request. REST requests go through the request runner, never with an access token.

export interface Environment { id: string; name: string; created_at: string }
export interface Session { user: { id: string; email: string }; csrf_token: string }
export interface Space { id: string; created_at: string; type: string; status: string; passthrough?: string; active_session_id?: string; broadcasts?: Broadcast[] }
export interface PlaybackId { id: string; policy: string }
export interface SimulcastTarget { id: string; url: string; stream_key?: string; passthrough?: string; status: string }
export interface LiveStream {
  id: string; created_at: string; stream_key: string; status: string; playback_ids: PlaybackId[];
  passthrough?: string; latency_mode: string; reconnect_window: number; simulcast_targets?: SimulcastTarget[];
}
export interface Broadcast {
  id: string; live_stream_id: string; status: string; layout: string; resolution: string; background?: string; passthrough?: string;
}
export interface WebhookEndpoint { id: string; url: string; signing_secret: string; created_at: string }
export interface WebhookDelivery {
  id: string; event_id: string; type: string; object_id: string; status: string; attempts: number;
  last_response_status_code: number | null; last_error: string | null; last_attempt_at_ms: number | null;
  next_attempt_at_ms: number | null; created_at_ms: number;
}
export interface SigningKey { id: string; created_at: string; private_key?: string }
export interface AccessToken { id: string; name: string; created_at: string; revoked_at: string | null; status: string; secret?: string }
export interface TrackView {
  id: string; kind: 'audio' | 'video'; source: string; name: string; muted: boolean;
  width: number; height: number; simulcast: boolean; layer_bitrates_bps: number[]; subscribers: number;
}
export interface ParticipantView {
  connection_id: string; participant_id: string; display_name: string; role: string;
  state: string; connected_seconds: number; tracks: TrackView[];
}
/** A participant's call-quality rating (1 bad .. 5 excellent) of one session of a space. */
export interface RatingView {
  session_id: string; participant_id: string; connection_id: string | null; score: number; created_at: string;
}
export interface RestRequest { method: string; path: string; body?: unknown }
export interface RestResponse { status: number; statusText: string; body: unknown }

let csrfToken = '';

export class ApiError extends Error {
  constructor(readonly status: number, readonly body: unknown) {
    super(messageOf(body) ?? `HTTP ${status}`);
  }
}

function messageOf(body: unknown): string | undefined {
  const error = (body as { error?: { messages?: string[] } } | null)?.error;
  return error?.messages?.join(' ');
}

async function call(method: string, path: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') headers['x-csrf-token'] = csrfToken;
  return fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
}

async function parse(response: Response): Promise<unknown> {
  const text = await response.text();
  if (!text) return null;
  try { return JSON.parse(text); } catch { return text; }
}

/** A dashboard API call; a lost session sends the browser to the sign-in page. */
async function dashboard<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await call(method, `/dashboard/api${path}`, body);
  const parsed = await parse(response);
  if (response.status === 401 && !path.startsWith('/sign-in')) {
    location.assign(`/sign-in?next=${encodeURIComponent(location.pathname + location.search)}`);
  }
  if (!response.ok) throw new ApiError(response.status, parsed);
  return ((parsed as { data?: T } | null)?.data ?? null) as T;
}

export async function loadSession(): Promise<Session | null> {
  const response = await call('GET', '/dashboard/api/session');
  if (response.status === 401) return null;
  const parsed = (await parse(response)) as { data: Session };
  if (!response.ok) throw new ApiError(response.status, parsed);
  csrfToken = parsed.data.csrf_token;
  return parsed.data;
}

export async function signIn(email: string, password: string): Promise<Session> {
  const session = await dashboard<Session>('POST', '/sign-in', { email, password });
  csrfToken = session.csrf_token;
  return session;
}

export const signOut = () => dashboard<null>('POST', '/sign-out');
export const listEnvironments = () => dashboard<Environment[]>('GET', '/environments');
export const createEnvironment = (name: string) => dashboard<Environment>('POST', '/environments', { name });
export const listAccessTokens = (env: string, page: number, limit: number) =>
  dashboard<AccessToken[]>('GET', `/environments/${env}/access-tokens?limit=${limit}&page=${page}`);
export const createAccessToken = (env: string, name: string) =>
  dashboard<AccessToken>('POST', `/environments/${env}/access-tokens`, { name });
export const revokeAccessToken = (env: string, id: string) =>
  dashboard<null>('DELETE', `/environments/${env}/access-tokens/${encodeURIComponent(id)}`);
export const spaceParticipants = (env: string, space: string) =>
  dashboard<{ space: Space; participants: ParticipantView[] }>(
    'GET', `/environments/${env}/spaces/${encodeURIComponent(space)}/participants`);
export const spaceRatings = (env: string, space: string) =>
  dashboard<RatingView[]>('GET', `/environments/${env}/spaces/${encodeURIComponent(space)}/ratings`);
export const mintJoinToken = (env: string, space: string, options: { role: string; participant_id?: string; expires_in_seconds: number }) =>
  dashboard<{ token: string; meeting_path: string; expires_at: string; role: string; participant_id: string | null }>(
    'POST', `/environments/${env}/spaces/${encodeURIComponent(space)}/join-token`, options);

/** Runs a Mux REST request in an environment through the dashboard's request runner. */
export async function runRequest(env: string, request: RestRequest): Promise<RestResponse> {
  const response = await call('POST', `/dashboard/api/environments/${env}/run`, request);
  const body = await parse(response);
  if (response.headers.get('x-oriel-run') !== 'rest') {
    // The runner itself refused (session, CSRF, a path it does not run).
    if (response.status === 401) location.assign('/sign-in');
    throw new ApiError(response.status, body);
  }
  return { status: response.status, statusText: response.statusText, body };
}

/** The data of a REST response that succeeded, or an error with its message. */
export function dataOf<T>(response: RestResponse): T {
  if (response.status >= 400) throw new ApiError(response.status, response.body);
  return (response.body as { data: T } | null)?.data as T;
}
