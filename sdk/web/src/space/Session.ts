// One connection to the space: the signaling socket, the publisher peer connection and the
// subscriber peer connections that go with one `connection_id`. A reconnection throws the
// whole Session away and makes a new one; nothing of the old one can reach the new.
//
// The Session routes what belongs to peer connections (`sub_offer`, `answer`, `candidate`)
// itself, and hands every other server message to the Space in order.

import { DisconnectedError } from '../errors/externalErrors';
import type { SignalingErrorFrame } from '../errors/signaling';
import { Logger } from '../logger';
import { ParticipantRole } from '../participant/enums';
import { Publisher, encodingSettings } from '../rtc/Publisher';
import { Subscriber } from '../rtc/Subscriber';
import type { Runtime } from '../runtime';
import { windowValue } from '../runtime';
import { SignalClient } from '../signaling/SignalClient';
import {
  CandidateTarget,
  candidateFromWire,
  type ClientMessage,
  type Joined,
  type ServerMessage,
  type WireIceServer,
} from '../signaling/protocol';

const log = new Logger('session');

/** Close code with which the server ends a connection for good. */
export const CLOSE_AFTER_ERROR = 4000;
/** How long a peer connection may stay `failed` before the space reconnects. */
export const MEDIA_FAILED_GRACE_MS = 8_000;

export interface SessionOutput {
  /** A server message for the space (not `sub_offer`/`answer`/`candidate`/`error`). */
  message(message: ServerMessage): void;
  remoteTrack(tid: string, track: MediaStreamTrack): void;
  remoteTrackEnded(tid: string, track: MediaStreamTrack): void;
  /** The connection broke: reconnect. */
  lost(reason: string): void;
  /** The server ended the connection for good. */
  ended(error: DisconnectedError): void;
}

export interface SessionConfig {
  role: ParticipantRole;
  disableABRPublishing: boolean;
}

/** `joined.ice_servers` → RTCIceServer[]; nothing else (no public STUN fallback). */
export function iceServersFrom(list: WireIceServer[]): RTCIceServer[] {
  const servers: RTCIceServer[] = [];
  for (const s of list) {
    const urls = (Array.isArray(s.urls) ? s.urls : [s.urls]).filter((u) => typeof u === 'string' && u.length > 0);
    if (urls.length === 0) continue;
    const server: RTCIceServer = { urls };
    if (s.username) server.username = s.username;
    if (s.credential) server.credential = s.credential;
    servers.push(server);
  }
  return servers;
}

export class Session {
  readonly signal: SignalClient;
  publisher?: Publisher;
  private subscribers = new Map<string, Subscriber>();
  /** Candidates for a subscriber PC that does not exist yet, by sfu_id. */
  private earlyCandidates = new Map<string, RTCIceCandidateInit[]>();
  private earlyPublisherCandidates: RTCIceCandidateInit[] = [];
  private iceServers: RTCIceServer[] = [];
  private failedTimers = new Map<RTCPeerConnection, unknown>();
  private closed = false;

  constructor(
    private readonly runtime: Runtime,
    private readonly config: SessionConfig,
    private readonly output: SessionOutput,
  ) {
    this.signal = new SignalClient(runtime, {
      message: (m) => this.onMessage(m),
      closed: (code, reason) => this.onClosed(code, reason),
      fatal: (frame) => this.onFatal(frame),
    });
  }

  /** Dials the space; resolves with `joined` (see {@link SignalClient.connect}). */
  open(url: string, timeoutMs: number): Promise<Joined> {
    return this.signal.connect(url, timeoutMs);
  }

  /** Creates the peer connections `joined` asks for. Call after the space applied `joined`. */
  setup(joined: Joined): void {
    this.iceServers = iceServersFrom(joined.ice_servers);
    for (const offer of joined.sub_sfus) this.subscriber(offer.sfu_id).handleOffer(offer.sdp);
    if (this.config.role !== ParticipantRole.Subscriber) {
      const encodings = encodingSettings(joined.simulcast, {
        disableABR: this.config.disableABRPublishing,
        goodVideo: windowValue('MUX_SPACES_GOOD_VIDEO') === true,
      });
      const publisher = new Publisher(this.runtime, joined.sub_sfus[0]?.sfu_id ?? '', this.iceServers, encodings, {
        send: (m) => this.send(m),
        failed: (reason) => this.lose(reason),
      });
      this.publisher = publisher;
      this.watch(publisher.pc);
      for (const c of this.earlyPublisherCandidates) publisher.addRemoteCandidate(c);
      this.earlyPublisherCandidates = [];
    }
  }

  /** Starts delivering server messages (those that came with or after `joined` first). */
  start(): void {
    this.signal.start();
  }

  send(message: ClientMessage): boolean {
    return !this.closed && this.signal.send(message);
  }

  /** Closes the socket and every peer connection. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.failedTimers.values()) this.runtime.clearTimeout(timer);
    this.failedTimers.clear();
    this.signal.close(1000, 'leaving');
    this.publisher?.close();
    for (const s of this.subscribers.values()) s.close();
    this.subscribers.clear();
  }

  private subscriber(sfuId: string): Subscriber {
    let sub = this.subscribers.get(sfuId);
    if (sub) return sub;
    sub = new Subscriber(this.runtime, sfuId, this.iceServers, {
      send: (m) => this.send(m),
      track: (tid, track) => !this.closed && this.output.remoteTrack(tid, track),
      trackEnded: (tid, track) => !this.closed && this.output.remoteTrackEnded(tid, track),
      failed: (reason) => this.lose(reason),
    });
    // In the map before any await: a quick second offer reuses it instead of making another PC.
    this.subscribers.set(sfuId, sub);
    this.watch(sub.pc);
    for (const c of this.earlyCandidates.get(sfuId) ?? []) sub.addRemoteCandidate(c);
    this.earlyCandidates.delete(sfuId);
    return sub;
  }

  private onMessage(message: ServerMessage): void {
    if (this.closed) return;
    switch (message.type) {
      case 'sub_offer':
        this.subscriber(message.value.sfu_id).handleOffer(message.value.sdp);
        return;
      case 'answer':
        if (this.publisher) this.publisher.handleAnswer(message.value);
        else log.warn('ignored an answer: no publisher connection');
        return;
      case 'candidate': {
        const { candidate, type, sfu_id: sfuId } = message.value;
        const init = candidateFromWire(candidate);
        if (type === CandidateTarget.Subscriber) {
          const sub = this.subscribers.get(sfuId);
          if (sub) sub.addRemoteCandidate(init);
          else this.earlyCandidates.set(sfuId, [...(this.earlyCandidates.get(sfuId) ?? []), init]);
        } else if (type === CandidateTarget.Publisher) {
          if (this.publisher) this.publisher.addRemoteCandidate(init);
          else this.earlyPublisherCandidates.push(init);
        } else {
          log.warn(`ignored a candidate of unknown type ${type}`);
        }
        return;
      }
      default:
        this.output.message(message);
    }
  }

  private onClosed(code: number, reason: string): void {
    if (this.closed) return;
    if (code === CLOSE_AFTER_ERROR) {
      this.end(new DisconnectedError(`The server closed the connection${reason ? `: ${reason}` : ''}`, code));
    } else {
      this.lose(`the signaling connection closed (code ${code})`);
    }
  }

  private onFatal(frame: SignalingErrorFrame): void {
    if (this.closed) return;
    if (frame.retry) this.lose(`the server asked to reconnect: ${frame.message}`);
    else this.end(new DisconnectedError(frame.message || 'The server ended the connection', frame.type));
  }

  private lose(reason: string): void {
    if (this.closed) return;
    log.warn(`connection lost: ${reason}`);
    this.output.lost(reason);
  }

  private end(error: DisconnectedError): void {
    if (this.closed) return;
    this.output.ended(error);
  }

  /** A peer connection `failed` for longer than the grace period loses the connection. */
  private watch(pc: RTCPeerConnection): void {
    pc.addEventListener?.('connectionstatechange', () => {
      if (this.closed) return;
      const existing = this.failedTimers.get(pc);
      if (pc.connectionState === 'failed') {
        if (existing !== undefined) return;
        this.failedTimers.set(
          pc,
          this.runtime.setTimeout(() => {
            this.failedTimers.delete(pc);
            if (pc.connectionState === 'failed') this.lose('a peer connection failed');
          }, MEDIA_FAILED_GRACE_MS),
        );
      } else if (existing !== undefined) {
        this.runtime.clearTimeout(existing);
        this.failedTimers.delete(pc);
      }
    });
  }
}
