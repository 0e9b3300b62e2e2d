// One signaling connection (one WebSocket, one `connection_id`): opens it, waits for `joined`
// or a refusal, then delivers server messages in order and correlates the replies to requests.
// A reconnection makes a new SignalClient: events of an old socket can never reach the new
// session.

import { ConnectionError, RequestTimeoutError, SubscriptionError, WebsocketError } from '../errors/externalErrors';
import type { MuxError } from '../errors/muxError';
import { joinError, requestError, type SignalingErrorFrame } from '../errors/signaling';
import { Logger } from '../logger';
import type { Runtime, WebSocketLike } from '../runtime';
import { parseServerMessage, type ClientMessage, type Joined, type ServerMessage } from './protocol';

/** How long the SDK waits for the answer to a request (`custom_event`, `set_display_name`, subscriptions). */
export const REQUEST_TIMEOUT_MS = 30_000;

const log = new Logger('signaling');
const OPEN = 1;

export interface SignalHandler {
  /** A server message for the space, in order (after {@link SignalClient.start}). */
  message(message: ServerMessage): void;
  /** The socket closed after `joined` without {@link SignalClient.close} being called. */
  closed(code: number, reason: string): void;
  /** A fatal `error` frame after `joined`. */
  fatal(frame: SignalingErrorFrame): void;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: MuxError): void;
  timer: unknown;
}

type Phase = 'new' | 'connecting' | 'joined' | 'started' | 'closed';

export class SignalClient {
  private ws?: WebSocketLike;
  private phase: Phase = 'new';
  /** Rejects the pending {@link connect} (set while connecting). */
  private abortConnect?: (error: MuxError) => void;
  /** Messages that arrived after `joined` but before the space was ready for them. */
  private buffered: ServerMessage[] = [];
  /** Requests with a `request_id`, by id. */
  private requests = new Map<string, Pending>();
  /** Subscription requests waiting for their reply, FIFO per connection id. */
  private waiters = {
    subscribe_tracks: new Map<string, Pending[]>(),
    unsubscribe_tracks: new Map<string, Pending[]>(),
  };

  constructor(
    private readonly runtime: Runtime,
    private readonly handler: SignalHandler,
  ) {}

  /**
   * Dials `url` and resolves with `joined`. Rejects with the public error for an `error` frame
   * (JWTError, ConnectionError, InternalError; `code` = the server's error type), or with
   * ConnectionError when the socket cannot open, closes first, or nothing comes in `timeoutMs`.
   */
  connect(url: string, timeoutMs: number): Promise<Joined> {
    if (this.phase !== 'new') return Promise.reject(new ConnectionError('this signaling client was already used'));
    this.phase = 'connecting';
    return new Promise<Joined>((resolve, reject) => {
      let timer: unknown;
      const fail = (error: MuxError) => {
        if (this.phase !== 'connecting') return;
        this.runtime.clearTimeout(timer);
        this.abortConnect = undefined;
        this.close(1000, 'join failed');
        reject(error);
      };
      this.abortConnect = fail;
      let ws: WebSocketLike;
      try {
        ws = this.runtime.createWebSocket(url);
      } catch (e) {
        fail(new ConnectionError(`cannot open the signaling connection: ${e instanceof Error ? e.message : String(e)}`));
        return;
      }
      this.ws = ws;
      timer = this.runtime.setTimeout(() => fail(new ConnectionError(`no answer from the server within ${timeoutMs / 1000} s`)), timeoutMs);
      ws.onerror = () => log.debug('WebSocket error');
      ws.onclose = (ev) => {
        if (this.phase === 'connecting') {
          fail(new ConnectionError(`the connection closed before joining (code ${ev.code}${ev.reason ? `: ${ev.reason}` : ''})`));
        } else if (this.phase !== 'closed') {
          this.phase = 'closed';
          this.detach();
          this.rejectPending(new WebsocketError('Request failed as connection to the server has disconnected'));
          this.handler.closed(ev.code, ev.reason);
        }
      };
      ws.onmessage = (ev) => {
        if (typeof ev.data !== 'string') {
          log.warn('ignored a binary frame');
          return;
        }
        const parsed = parseServerMessage(ev.data);
        if ('ignored' in parsed) {
          log.warn(`ignored a server frame (${parsed.ignored})`, ev.data.slice(0, 200));
          return;
        }
        const message = parsed.message;
        if (this.phase === 'connecting') {
          if (message.type === 'joined') {
            this.runtime.clearTimeout(timer);
            this.abortConnect = undefined;
            this.phase = 'joined';
            resolve(message.value);
          } else if (message.type === 'error') {
            fail(joinError(message.value));
          } else {
            this.buffered.push(message);
          }
          return;
        }
        this.receive(message);
      };
    });
  }

  /** Starts delivering messages to the handler, those buffered since `joined` first. */
  start(): void {
    if (this.phase !== 'joined') return;
    this.phase = 'started';
    const buffered = this.buffered;
    this.buffered = [];
    for (const message of buffered) {
      if (this.phase !== 'started') return;
      this.dispatch(message);
    }
  }

  /** Whether messages can be sent. */
  get isOpen(): boolean {
    return (this.phase === 'joined' || this.phase === 'started') && this.ws?.readyState === OPEN;
  }

  /** Sends a message; false (and nothing sent) when the socket is not open. */
  send(message: ClientMessage): boolean {
    if (!this.isOpen || !this.ws) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  /**
   * Sends a message with a top-level `request_id` and resolves with the value of the reply that
   * echoes it (`custom_event` / `participant_update`), or rejects with the public error of an
   * `error` frame naming it, WebsocketError if the connection ends, RequestTimeoutError after 30 s.
   */
  request<T>(message: ClientMessage & { request_id: string }): Promise<T> {
    const id = message.request_id;
    return new Promise<T>((resolve, reject) => {
      if (!this.send(message)) {
        reject(new WebsocketError('Request failed as connection to the server has disconnected'));
        return;
      }
      const timer = this.runtime.setTimeout(() => {
        if (this.requests.delete(id)) reject(new RequestTimeoutError('Unable to complete the request'));
      }, REQUEST_TIMEOUT_MS);
      this.requests.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
    });
  }

  /** `subscribe_tracks` / `unsubscribe_tracks` for one participant; resolves on its success. */
  subscription(kind: 'subscribe_tracks' | 'unsubscribe_tracks', connectionId: string, trackIds: string[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const message = { [kind]: { connections: [{ connection_id: connectionId, track_ids: trackIds }] } } as ClientMessage;
      if (!this.send(message)) {
        reject(new WebsocketError('Request failed as connection to the server has disconnected'));
        return;
      }
      const queue = this.waiters[kind].get(connectionId) ?? [];
      const pending: Pending = {
        resolve: () => resolve(),
        reject,
        timer: this.runtime.setTimeout(() => {
          const i = queue.indexOf(pending);
          if (i >= 0) {
            queue.splice(i, 1);
            reject(new RequestTimeoutError('Unable to complete the request'));
          }
        }, REQUEST_TIMEOUT_MS),
      };
      queue.push(pending);
      this.waiters[kind].set(connectionId, queue);
    });
  }

  /** Closes the socket (if open) without telling the handler; pending requests fail. */
  close(code = 1000, reason = ''): void {
    if (this.phase === 'closed') return;
    if (this.phase === 'connecting' && this.abortConnect) {
      this.abortConnect(new ConnectionError('The connection was closed before joining'));
      return;
    }
    this.phase = 'closed';
    this.buffered = [];
    const ws = this.ws;
    this.detach();
    if (ws && (ws.readyState === 0 || ws.readyState === OPEN)) {
      try {
        ws.close(code, reason);
      } catch {
        // already closing
      }
    }
    this.rejectPending(new WebsocketError('Request failed as connection to the server has disconnected'));
  }

  private detach(): void {
    if (!this.ws) return;
    this.ws.onopen = null;
    this.ws.onmessage = null;
    this.ws.onclose = null;
    this.ws.onerror = null;
  }

  private receive(message: ServerMessage): void {
    if (this.phase === 'joined') this.buffered.push(message);
    else if (this.phase === 'started') this.dispatch(message);
  }

  private dispatch(message: ServerMessage): void {
    switch (message.type) {
      case 'joined':
        log.warn('ignored a second joined message');
        return;
      case 'error':
        this.handleError(message.value);
        return;
      case 'custom_event':
      case 'participant_update': {
        // The echo of our own request resolves it; everything else is for the space.
        const pending = message.requestId ? this.requests.get(message.requestId) : undefined;
        if (pending && message.requestId) {
          this.requests.delete(message.requestId);
          this.runtime.clearTimeout(pending.timer);
          pending.resolve(message.value);
          return;
        }
        break;
      }
      case 'subscribe_tracks':
      case 'unsubscribe_tracks': {
        const waiters = this.waiters[message.type];
        const settle = (connectionId: string, ok: boolean) => {
          const queue = waiters.get(connectionId);
          const pending = queue?.shift();
          if (!pending) return;
          if (queue && queue.length === 0) waiters.delete(connectionId);
          this.runtime.clearTimeout(pending.timer);
          if (ok) pending.resolve(undefined);
          else pending.reject(new SubscriptionError(message.type === 'subscribe_tracks' ? 'Subscribe failed' : 'Unsubscribe failed'));
        };
        for (const f of message.value.failures) if (f && typeof f.connection_id === 'string') settle(f.connection_id, false);
        for (const s of message.value.successes) if (s && typeof s.connection_id === 'string') settle(s.connection_id, true);
        return;
      }
    }
    this.handler.message(message);
  }

  private handleError(frame: SignalingErrorFrame): void {
    const correlator = frame.request_error?.correlator;
    let matched = false;
    if (typeof correlator === 'string') {
      for (const id of correlator.split(',')) {
        const pending = this.requests.get(id);
        if (!pending) continue;
        matched = true;
        this.requests.delete(id);
        this.runtime.clearTimeout(pending.timer);
        pending.reject(requestError(frame));
      }
    }
    if (frame.fatal) {
      log.error(`the server reported a fatal error (type ${frame.type}): ${frame.message}`);
      this.handler.fatal(frame);
    } else if (!matched) {
      log.warn(`the server reported an error (type ${frame.type}): ${frame.message}`);
    }
  }

  private rejectPending(error: MuxError): void {
    for (const pending of this.requests.values()) {
      this.runtime.clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.requests.clear();
    for (const waiters of Object.values(this.waiters)) {
      for (const queue of waiters.values()) {
        for (const pending of queue) {
          this.runtime.clearTimeout(pending.timer);
          pending.reject(error);
        }
      }
      waiters.clear();
    }
  }
}
