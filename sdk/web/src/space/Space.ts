// The Space: the public entry point, and the state machine of one participant's presence in
// a space.
//
//   new ──join()──▶ joining ──joined──▶ joined ◀──────────────┐
//                      │                  │ connection lost    │ joined (attempt n ≤ 5)
//                      │ refused          ▼                    │
//                      └──▶ new      reconnecting ─────────────┘
//                                         │ 5 attempts failed, or the token is refused
//                                         ▼
//   any state ──leave()──▶ left      disconnected  ◀── server closed it for good (4000, fatal)
//
// The Space owns the registry of remote participants and their tracks, and is the only place
// that emits Space events. The connection itself (socket + peer connections) is a Session;
// each reconnection attempt makes a new one, and callbacks of a Session that is no longer
// current are ignored.

import { TypedEventEmitter } from '../emitter';
import {
  AcrError,
  ConnectionError,
  DisconnectedError,
  JWTError,
  PublishTrackError,
  SpaceOptionsError,
  SubscriptionError,
  WebsocketError,
} from '../errors/externalErrors';
import { InternalSignalingErrorType } from '../errors/signaling';
import { Logger } from '../logger';
import type { LocalBackend, RemoteBackend } from '../participant/backends';
import { ParticipantRole, ParticipantStatus } from '../participant/enums';
import { ParticipantEvent } from '../participant/events';
import LocalParticipant, { isDisplayNameValid } from '../participant/LocalParticipant';
import RemoteParticipant from '../participant/RemoteParticipant';
import { defaultRuntime, windowValue, type Runtime } from '../runtime';
import type { ClientMessage, Joined, ServerMessage, WireLimits, WireParticipant, WireTrack } from '../signaling/protocol';
import { TrackKind } from '../track/enums';
import type { LocalTrack } from '../track/LocalTrack';
import { RemoteTrack } from '../track/RemoteTrack';
import { toTrackSource } from '../track/Track';
import { TrackEvent } from '../track/events';
import { version } from '../version';
import { AcrScore, BroadcastState } from './enums';
import { SpaceEvent, type SpaceEvents } from './events';
import { SubscriptionMode, type SpaceOptionsParams } from './options';
import { Session } from './Session';
import type { ActiveSpeaker } from './types';
import { isAutomaticParticipantLimitValid, parseJwt, resolveBackendUrl } from './utils';

const log = new Logger('Space');

/** How long the first join may take. */
export const JOIN_TIMEOUT_MS = 15_000;
/** Reconnection: this many attempts, this far apart (the first one at once), each this long at most. */
export const RECONNECT_ATTEMPTS = 5;
export const RECONNECT_DELAY_MS = 5_000;
export const RECONNECT_ATTEMPT_TIMEOUT_MS = 10_000;
/** How long `subscribe()` waits for media once the server accepted, `unsubscribe()` for its end. */
export const SUBSCRIBE_MEDIA_TIMEOUT_MS = 15_000;
export const UNSUBSCRIBE_MEDIA_TIMEOUT_MS = 5_000;

type State = 'new' | 'joining' | 'joined' | 'reconnecting' | 'disconnected' | 'left';

interface Options {
  disableABRPublishing: boolean;
  subscriptionMode: SubscriptionMode;
  automaticParticipantLimit: number;
  displayName: string;
  backendUrl?: string;
}

const DEFAULT_LIMITS: WireLimits = { custom_events_per_second: 1, default_track_limit: 2, seconds_per_set_display_name: 10 };

declare global {
  interface Window {
    MUX_SPACES_BACKEND_URL: string;
    VERBOSE_LOGGING: boolean;
    MUX_SPACES_GOOD_VIDEO: boolean;
    MUX_SPACES_HELIOS_URL: string;
  }
}

/**
 * A Space is where participants meet. Participants publish their own tracks and subscribe to
 * the others'. A space emits [[SpaceEvent]]s to relay state updates.
 *
 * ```typescript
 * const space = new Space(joinToken, { backendUrl: 'wss://oriel.example.com/pluto' });
 * space.on(SpaceEvent.ParticipantTrackSubscribed, (participant, track) => track.attach(videoEl));
 * const me = await space.join();
 * await me.publishTracks(await getUserMedia({ audio: true, video: true }));
 * ```
 *
 * @noInheritDoc
 */
export class Space extends TypedEventEmitter<SpaceEvents> {
  /** The local participant in the Space, set by a successful join. */
  localParticipant?: LocalParticipant;
  /** Whether the Space is currently being broadcast. */
  broadcasting = false;
  /** The id of the space's current session (active period), set by a successful join. */
  sessionId?: string;
  protected jwt: string;
  private spaceId: string;
  private participantId?: string;
  private localRole: ParticipantRole;
  private options: Options;
  private runtime: Runtime = defaultRuntime;
  private state: State = 'new';
  private session?: Session;
  /** The connection the last join got: a call is rated after leaving it, as apps do. */
  private ratedConnectionId?: string;
  private joining?: Promise<LocalParticipant>;
  private reconnectTimer: unknown;
  private limits: WireLimits = DEFAULT_LIMITS;
  private participants = new Map<string, RemoteParticipant>();
  /** Every remote track by tid. */
  private tracks = new Map<string, { participant: RemoteParticipant; track: RemoteTrack }>();
  /** Media whose tid is not known yet (its `add_track` is still to come), by tid. */
  private earlyMedia = new Map<string, MediaStreamTrack>();
  /** Connection ids of the participants currently speaking, and the last list emitted. */
  private speaking = new Set<string>();
  private speakersKey = '';
  /** Who waits for media of a tid to start (subscribe) or end (unsubscribe). */
  private mediaWaiters = new Map<string, Set<() => void>>();

  /**
   * @param jwt - A join token signed with a signing key of the space's environment: `sub` the
   *   space id, `aud` "rt", optional `role` ("publisher" or "subscriber") and `participant_id`.
   * @param options - An optional set of Space options
   */
  constructor(jwt: string, options?: SpaceOptionsParams) {
    super();
    this.jwt = jwt;
    const claims = parseJwt(jwt);
    this.spaceId = typeof claims.sub === 'string' ? claims.sub : '';
    this.localRole = claims.role === 'subscriber' ? ParticipantRole.Subscriber : ParticipantRole.Publisher;
    this.participantId = typeof claims.participant_id === 'string' && claims.participant_id ? claims.participant_id : undefined;
    const o = options ?? {};
    if (o.automaticParticipantLimit !== undefined && !isAutomaticParticipantLimitValid(o.automaticParticipantLimit)) {
      throw new SpaceOptionsError('The automaticParticipantLimit must be an integer between 1 and 20');
    }
    if (o.displayName !== undefined && o.displayName !== '' && !isDisplayNameValid(o.displayName)) {
      throw new SpaceOptionsError(`May not join with invalid display name: ${o.displayName}`);
    }
    if (o.subscriptionMode !== undefined && o.subscriptionMode !== SubscriptionMode.Automatic && o.subscriptionMode !== SubscriptionMode.Manual) {
      throw new SpaceOptionsError(`Unknown subscriptionMode: ${String(o.subscriptionMode)}`);
    }
    if (o.backendUrl !== undefined && typeof o.backendUrl !== 'string') throw new SpaceOptionsError('backendUrl must be a string');
    this.options = {
      disableABRPublishing: o.disableABRPublishing === true,
      subscriptionMode: o.subscriptionMode ?? SubscriptionMode.Automatic,
      automaticParticipantLimit: o.automaticParticipantLimit ?? 16,
      displayName: o.displayName ?? '',
      backendUrl: o.backendUrl,
    };
  }

  /**
   * Join the Space. Participants already in arrive as [[SpaceEvent.ParticipantJoined]] before
   * this resolves. Rejects with JWTError (token refused), ConnectionError (server unreachable,
   * full, or no answer in 15 s) or InternalError. Calling it again while joining or joined
   * returns the same promise; after a failure it tries again.
   *
   * @returns A promise that resolves on a successful join.
   */
  join(): Promise<LocalParticipant> {
    if (this.state === 'left') return Promise.reject(new ConnectionError('This Space was left: make a new Space to join again'));
    if (!this.joining) {
      this.joining = this.firstJoin();
      this.joining.catch(() => {
        this.joining = undefined;
      });
    }
    return this.joining;
  }

  /**
   * Leave the Space: stops and unpublishes the local tracks, closes the connection, emits
   * [[SpaceEvent.ParticipantLeft]] for every remote participant, then removes all listeners.
   */
  leave(): void {
    if (this.state === 'left') return;
    this.state = 'left';
    this.runtime.clearTimeout(this.reconnectTimer);
    this.session?.close();
    this.session = undefined;
    const local = this.localParticipant;
    if (local && local.role !== ParticipantRole.Subscriber) local.unpublishAllTracks();
    local?.removeAllListeners();
    this.localParticipant = undefined;
    for (const p of [...this.participants.values()]) this.removeParticipant(p, { tracks: false });
    this.tracks.clear();
    this.earlyMedia.clear();
    for (const waiters of this.mediaWaiters.values()) for (const w of waiters) w();
    this.mediaWaiters.clear();
    this.removeAllListeners();
  }

  /**
   * Submit an Absolute Category Rating (https://en.wikipedia.org/wiki/Absolute_Category_Rating)
   * of this session. Sent only to the collector named by `window.MUX_SPACES_HELIOS_URL`;
   * without one it rejects with AcrError and sends nothing anywhere.
   */
  async submitAcrScore(score: AcrScore): Promise<void> {
    if (!Number.isInteger(score) || score < AcrScore.Bad || score > AcrScore.Excellent) {
      throw new AcrError('Invalid acr score. Please choose one from 1-5');
    }
    const connectionId = this.localParticipant?.connectionId ?? this.ratedConnectionId;
    if (!connectionId || !this.sessionId) throw new AcrError('cannot submit acr score before joining a space');
    const base = windowValue('MUX_SPACES_HELIOS_URL');
    if (typeof base !== 'string' || !base) {
      throw new AcrError('ACR scores are not collected: set window.MUX_SPACES_HELIOS_URL to a collector');
    }
    const body = {
      connection_id: connectionId,
      space_id: this.spaceId,
      session_id: this.sessionId,
      participant_id: this.participantId ?? this.localParticipant?.id ?? connectionId,
      acr_score: score,
    };
    let status: number;
    try {
      const res = await fetch(`${base.replace(/\/+$/, '')}/helios/v1/submit_acr/${this.jwt}`, {
        method: 'POST',
        headers: { 'Content-Type': 'text/plain' },
        body: JSON.stringify(body),
      });
      status = res.status;
    } catch (e) {
      throw new AcrError(e instanceof Error ? e.message : 'Unknown error submitting acr score');
    }
    if (status >= 300) throw new AcrError(`error submitting acr score got response code ${status}`);
  }

  // ---------------------------------------------------------------- connection state machine

  private async firstJoin(): Promise<LocalParticipant> {
    const url = this.url();
    this.state = 'joining';
    const session = this.newSession();
    let joined: Joined;
    try {
      joined = await session.open(url, JOIN_TIMEOUT_MS);
    } catch (error) {
      session.close();
      if (this.session === session) this.session = undefined;
      if (this.state === 'joining') this.state = 'new';
      throw error;
    }
    if (this.state !== 'joining' || this.session !== session) {
      session.close();
      throw new ConnectionError('The Space was left before the join completed');
    }
    this.limits = joined.limits;
    this.sessionId = joined.session_id;
    this.ratedConnectionId = joined.connection_id;
    if (joined.participant_id) this.participantId = joined.participant_id;
    const local = new LocalParticipant(
      this.localBackend,
      joined.connection_id,
      this.localRole,
      joined.participant_id || this.participantId || joined.connection_id,
      joined.display_name || this.options.displayName,
    );
    this.localParticipant = local;
    this.state = 'joined';
    for (const p of joined.participants) if (p.connection_id !== joined.connection_id) this.addParticipant(p);
    if (joined.broadcasting) this.setBroadcasting(true);
    session.setup(joined);
    session.start();
    return local;
  }

  private newSession(): Session {
    const session: Session = new Session(
      this.runtime,
      { role: this.localRole, disableABRPublishing: this.options.disableABRPublishing },
      {
        message: (m) => this.session === session && this.onMessage(m),
        remoteTrack: (tid, track) => this.session === session && this.onRemoteMedia(tid, track),
        remoteTrackEnded: (tid, track) => this.session === session && this.onRemoteMediaEnded(tid, track),
        lost: (reason) => this.session === session && this.connectionLost(reason),
        ended: (error) => this.session === session && this.disconnect(error),
      },
    );
    this.session = session;
    return session;
  }

  private url(reconnectAttempt?: number): string {
    const base = resolveBackendUrl(this.options.backendUrl);
    const params = new URLSearchParams();
    params.set('token', this.jwt);
    params.set('sdk_version', `oriel-web-${version}`);
    const manual = this.options.subscriptionMode === SubscriptionMode.Manual;
    params.set('managed_subscriptions', manual ? '0' : String(this.options.automaticParticipantLimit));
    if (reconnectAttempt !== undefined && this.participantId) {
      params.set('reconnect_id', this.participantId);
      params.set('reconnect_attempt', String(reconnectAttempt));
    }
    // On a reconnection, the name set with setDisplayName() (not the one the Space was made with).
    const displayName = this.localParticipant?.displayName || this.options.displayName;
    if (displayName) params.set('display_name', displayName);
    return `${base}/v1?${params}`;
  }

  private connectionLost(reason: string): void {
    if (this.state !== 'joined') return;
    log.warn(`reconnecting: ${reason}`);
    this.session?.close();
    this.session = undefined;
    this.state = 'reconnecting';
    this.emit(SpaceEvent.LocalParticipantReconnecting);
    // The media came over the old peer connections: it is gone.
    this.dropRemoteMedia();
    void this.attemptReconnect(1);
  }

  private async attemptReconnect(attempt: number): Promise<void> {
    if (this.state !== 'reconnecting') return;
    const session = this.newSession();
    let joined: Joined;
    try {
      joined = await session.open(this.url(attempt), RECONNECT_ATTEMPT_TIMEOUT_MS);
    } catch (error) {
      session.close();
      if (this.state !== 'reconnecting' || this.session !== session) return;
      this.session = undefined;
      const tokenRefused = error instanceof JWTError && error.code === InternalSignalingErrorType.InvalidJWT;
      log.warn(`reconnection attempt ${attempt} failed: ${error instanceof Error ? error.message : String(error)}`);
      if (tokenRefused || attempt >= RECONNECT_ATTEMPTS) {
        this.disconnect(new DisconnectedError('Failed to reconnect to the server.'));
        return;
      }
      this.reconnectTimer = this.runtime.setTimeout(() => void this.attemptReconnect(attempt + 1), RECONNECT_DELAY_MS);
      return;
    }
    if (this.state !== 'reconnecting' || this.session !== session) {
      session.close();
      return;
    }
    const local = this.localParticipant!;
    this.limits = joined.limits;
    this.sessionId = joined.session_id;
    this.ratedConnectionId = joined.connection_id;
    local.connectionId = joined.connection_id;
    if (joined.participant_id) {
      this.participantId = joined.participant_id;
      local.id = joined.participant_id;
    }
    this.state = 'joined';
    this.reconcile(joined);
    if (joined.broadcasting !== this.broadcasting) this.setBroadcasting(joined.broadcasting);
    session.setup(joined);
    const published = local.getTracks();
    if (published.length > 0) session.publisher?.add(published);
    if (this.options.subscriptionMode === SubscriptionMode.Manual) {
      for (const p of this.participants.values()) {
        if (p.isSubscribed() && p.getTracks().length > 0) {
          this.requestSubscription('subscribe_tracks', p, p.getTracks().map((t) => t.tid)).catch((e) =>
            log.warn(`could not subscribe to ${p.id} again`, e),
          );
        }
      }
    }
    session.start();
    this.emit(SpaceEvent.LocalParticipantReconnected, local);
  }

  /** The connection is over for good. */
  private disconnect(error: DisconnectedError): void {
    if (this.state === 'left' || this.state === 'disconnected') return;
    log.error(error.message);
    this.state = 'disconnected';
    this.runtime.clearTimeout(this.reconnectTimer);
    this.session?.close();
    this.session = undefined;
    this.dropRemoteMedia();
    this.emit(SpaceEvent.LocalParticipantReconnectFailed, error);
  }

  /** Brings the registry in line with the participant list of a reconnection's `joined`. */
  private reconcile(joined: Joined): void {
    const listed = new Set<string>();
    for (const wire of joined.participants) {
      if (wire.connection_id === joined.connection_id) continue;
      listed.add(wire.connection_id);
      const known = this.participants.get(wire.connection_id);
      if (known) this.updateParticipant(known, wire);
      else this.addParticipant(wire);
    }
    for (const p of [...this.participants.values()]) if (!listed.has(p.connectionId)) this.removeParticipant(p);
  }

  // ---------------------------------------------------------------- server messages

  private onMessage(message: ServerMessage): void {
    const local = this.localParticipant;
    const self = local?.connectionId;
    switch (message.type) {
      case 'participant_connected': {
        const wire = message.value;
        if (wire.connection_id === self) return;
        const known = this.participants.get(wire.connection_id);
        if (known) this.updateParticipant(known, wire);
        else this.addParticipant(wire);
        return;
      }
      case 'participant_disconnected': {
        const p = this.participants.get(message.value.connection_id);
        if (p) this.removeParticipant(p);
        return;
      }
      case 'add_track': {
        const { connection_id: conn, track } = message.value;
        if (conn === self) return;
        const p = this.participants.get(conn);
        if (!p) {
          log.warn(`add_track for an unknown participant ${conn}`);
          return;
        }
        if (this.findTrack(p, track.tid)) return;
        this.addRemoteTrack(p, track, true);
        return;
      }
      case 'remove_track': {
        const p = this.participants.get(message.value.connection_id);
        if (p) this.removeRemoteTrack(p, message.value.track.tid);
        return;
      }
      case 'track_muted':
      case 'track_unmuted': {
        const p = this.participants.get(message.value.connection_id);
        const t = p && this.findTrack(p, message.value.track.tid);
        if (p && t) this.setRemoteMuted(p, t, message.type === 'track_muted');
        return;
      }
      case 'active_speakers':
        this.onActiveSpeakers(message.value.tracks);
        return;
      case 'custom_event': {
        const wire = message.value;
        if (wire.connection_id === self) return; // our own, without a pending request
        const p = this.participants.get(wire.connection_id);
        if (!p) {
          log.warn(`custom_event from an unknown participant ${wire.connection_id}`);
          return;
        }
        const event = { payload: wire.payload, sequenceNumber: wire.sequence_num, scope: wire.scope };
        this.emit(SpaceEvent.ParticipantCustomEventPublished, p, event);
        p.emit(ParticipantEvent.CustomEventPublished, event);
        return;
      }
      case 'participant_update': {
        const { connection_id: conn, display_name: name } = message.value;
        if (typeof name !== 'string') return;
        if (local && conn === self) {
          if (local.displayName === name) return;
          local.displayName = name;
          local.emit(ParticipantEvent.DisplayNameChanged);
          this.emit(SpaceEvent.ParticipantDisplayNameChanged, local);
          return;
        }
        const p = this.participants.get(conn);
        if (p) this.setDisplayName(p, name);
        return;
      }
      case 'broadcast_state_update':
        if (message.value === BroadcastState.Started) this.setBroadcasting(true);
        else if (message.value === BroadcastState.Ended) this.setBroadcasting(false);
        return;
      case 'pending_track_ack':
        return;
      default:
        log.warn(`unexpected ${message.type} message`);
    }
  }

  private setBroadcasting(broadcasting: boolean): void {
    if (this.broadcasting === broadcasting) return;
    this.broadcasting = broadcasting;
    this.emit(SpaceEvent.BroadcastStateChanged, broadcasting);
  }

  // ---------------------------------------------------------------- the registry

  private addParticipant(wire: WireParticipant): void {
    const p = new RemoteParticipant(this.remoteBackend, wire.connection_id, wire.role, wire.participant_id, wire.status, wire.display_name);
    this.participants.set(p.connectionId, p);
    for (const t of wire.tracks) this.addRemoteTrack(p, t, false);
    this.emit(SpaceEvent.ParticipantJoined, p);
    // Media that came before the participant was known.
    for (const t of p.getTracks()) {
      const media = this.earlyMedia.get(t.tid);
      if (media) {
        this.earlyMedia.delete(t.tid);
        this.onRemoteMedia(t.tid, media);
      }
    }
  }

  /** A known participant listed again: name, tracks and mute states as listed. */
  private updateParticipant(p: RemoteParticipant, wire: WireParticipant): void {
    if (typeof wire.display_name === 'string') this.setDisplayName(p, wire.display_name);
    const listed = new Map(wire.tracks.map((t) => [t.tid, t]));
    for (const t of p.getTracks()) if (!listed.has(t.tid)) this.removeRemoteTrack(p, t.tid);
    for (const wt of wire.tracks) {
      const t = this.findTrack(p, wt.tid);
      if (!t) this.addRemoteTrack(p, wt, true);
      else if (typeof wt.muted === 'boolean' && wt.muted !== t.muted) this.setRemoteMuted(p, t, wt.muted);
    }
  }

  /** Emits the track (and media) events of a departure, then ParticipantLeft. */
  private removeParticipant(p: RemoteParticipant, { tracks = true }: { tracks?: boolean } = {}): void {
    p.status = ParticipantStatus.Disconnected;
    for (const t of p.getTracks()) {
      if (t.hasMedia()) this.unsubscribeTrack(p, t);
      if (tracks) {
        p.emit(ParticipantEvent.TrackUnpublished, t);
        this.emit(SpaceEvent.ParticipantTrackUnpublished, p, t);
      }
      this.forgetTrack(p, t);
    }
    this.participants.delete(p.connectionId);
    if (this.speaking.delete(p.connectionId)) p.emit(ParticipantEvent.StoppedSpeaking);
    this.emit(SpaceEvent.ParticipantLeft, p);
    p.removeAllListeners();
  }

  private addRemoteTrack(p: RemoteParticipant, wire: WireTrack, announce: boolean): void {
    if (wire.type !== TrackKind.Audio && wire.type !== TrackKind.Video) {
      log.warn(`ignored track ${wire.tid} of unknown type ${wire.type}`);
      return;
    }
    const track = new RemoteTrack({
      tid: wire.tid,
      kind: wire.type,
      name: typeof wire.name === 'string' ? wire.name : '',
      muted: wire.muted === true,
      source: toTrackSource(wire.source),
      width: typeof wire.width === 'number' ? wire.width : 0,
      height: typeof wire.height === 'number' ? wire.height : 0,
      metadata: wire.metadata ?? {},
    });
    (track.kind === TrackKind.Audio ? p.audioTracks : p.videoTracks).set(track.tid, track);
    this.tracks.set(track.tid, { participant: p, track });
    if (!announce) return;
    p.emit(ParticipantEvent.TrackPublished, track);
    this.emit(SpaceEvent.ParticipantTrackPublished, p, track);
    if (this.options.subscriptionMode === SubscriptionMode.Manual && p.isSubscribed()) {
      this.requestSubscription('subscribe_tracks', p, [track.tid]).catch((e) => log.warn(`could not subscribe to ${track.tid}`, e));
    }
    const media = this.earlyMedia.get(track.tid);
    if (media) {
      this.earlyMedia.delete(track.tid);
      this.onRemoteMedia(track.tid, media);
    }
  }

  /** Unsubscribed (if it had media), then unpublished. */
  private removeRemoteTrack(p: RemoteParticipant, tid: string): void {
    const t = this.findTrack(p, tid);
    if (!t) return;
    if (t.hasMedia()) this.unsubscribeTrack(p, t);
    this.forgetTrack(p, t);
    p.emit(ParticipantEvent.TrackUnpublished, t);
    this.emit(SpaceEvent.ParticipantTrackUnpublished, p, t);
    t.detach();
    t.removeAllListeners();
  }

  private forgetTrack(p: RemoteParticipant, t: RemoteTrack): void {
    (t.kind === TrackKind.Audio ? p.audioTracks : p.videoTracks).delete(t.tid);
    if (this.tracks.get(t.tid)?.track === t) this.tracks.delete(t.tid);
    this.earlyMedia.delete(t.tid);
    this.wake(t.tid);
  }

  private findTrack(p: RemoteParticipant, tid: string): RemoteTrack | undefined {
    return p.audioTracks.get(tid) ?? p.videoTracks.get(tid);
  }

  private setRemoteMuted(p: RemoteParticipant, t: RemoteTrack, muted: boolean): void {
    if (t.muted === muted) return;
    t.muted = muted;
    this.emit(muted ? SpaceEvent.ParticipantTrackMuted : SpaceEvent.ParticipantTrackUnmuted, p, t);
    p.emit(muted ? ParticipantEvent.TrackMuted : ParticipantEvent.TrackUnmuted, t);
    t.emit(muted ? TrackEvent.Muted : TrackEvent.Unmuted);
  }

  private setDisplayName(p: RemoteParticipant, name: string): void {
    if (p.displayName === name) return;
    p.displayName = name;
    this.emit(SpaceEvent.ParticipantDisplayNameChanged, p);
    p.emit(ParticipantEvent.DisplayNameChanged);
  }

  // ---------------------------------------------------------------- media

  private onRemoteMedia(tid: string, media: MediaStreamTrack): void {
    const entry = this.tracks.get(tid);
    if (!entry) {
      this.earlyMedia.set(tid, media);
      return;
    }
    const { participant: p, track: t } = entry;
    t.setMedia(media);
    const automatic = this.options.subscriptionMode === SubscriptionMode.Automatic;
    if (automatic) p.subscribed = true;
    if (!t.announced && (automatic || p.isSubscribed())) this.announce(p, t);
  }

  private announce(p: RemoteParticipant, t: RemoteTrack): void {
    t.announced = true;
    p.emit(ParticipantEvent.TrackSubscribed, t);
    this.emit(SpaceEvent.ParticipantTrackSubscribed, p, t);
    this.wake(t.tid);
  }

  private onRemoteMediaEnded(tid: string, media: MediaStreamTrack): void {
    if (this.earlyMedia.get(tid) === media) this.earlyMedia.delete(tid);
    const entry = this.tracks.get(tid);
    if (!entry || entry.track.track !== media) return;
    this.unsubscribeTrack(entry.participant, entry.track);
  }

  private unsubscribeTrack(p: RemoteParticipant, t: RemoteTrack): void {
    t.setMedia(undefined);
    const announced = t.announced;
    t.announced = false;
    if (this.options.subscriptionMode === SubscriptionMode.Automatic) p.subscribed = p.getTracks().some((x) => x.hasMedia());
    if (announced) {
      p.emit(ParticipantEvent.TrackUnsubscribed, t);
      this.emit(SpaceEvent.ParticipantTrackUnsubscribed, p, t);
    }
    this.wake(t.tid);
  }

  /** Every remote track with media is unsubscribed (its peer connection is gone). */
  private dropRemoteMedia(): void {
    this.earlyMedia.clear();
    for (const p of this.participants.values()) for (const t of p.getTracks()) if (t.hasMedia()) this.unsubscribeTrack(p, t);
  }

  private onActiveSpeakers(entries: { connection_id: string; track_id: string }[]): void {
    const local = this.localParticipant;
    const speakers: ActiveSpeaker[] = [];
    const now = new Set<string>();
    for (const e of entries) {
      let speaker: ActiveSpeaker | undefined;
      if (local && e.connection_id === local.connectionId) {
        const track = local.audioTracks.get(e.track_id) ?? local.videoTracks.get(e.track_id);
        if (track) speaker = { participant: local, track };
      } else {
        const p = this.participants.get(e.connection_id);
        const track = p && this.findTrack(p, e.track_id);
        if (p && track) speaker = { participant: p, track };
      }
      if (!speaker || now.has(e.connection_id)) continue;
      now.add(e.connection_id);
      speakers.push(speaker);
    }
    const tell = (conn: string, event: ParticipantEvent.StartedSpeaking | ParticipantEvent.StoppedSpeaking) => {
      if (local && conn === local.connectionId) local.emit(event);
      else this.participants.get(conn)?.emit(event);
    };
    for (const conn of now) if (!this.speaking.has(conn)) tell(conn, ParticipantEvent.StartedSpeaking);
    for (const conn of this.speaking) if (!now.has(conn)) tell(conn, ParticipantEvent.StoppedSpeaking);
    this.speaking = now;
    const key = speakers.map((s) => `${s.participant.connectionId}/${s.track.tid}`).join(',');
    if (key === this.speakersKey) return;
    this.speakersKey = key;
    this.emit(SpaceEvent.ActiveSpeakersChanged, speakers);
  }

  // ---------------------------------------------------------------- manual subscriptions

  private requestSubscription(kind: 'subscribe_tracks' | 'unsubscribe_tracks', p: RemoteParticipant, tids: string[]): Promise<void> {
    const session = this.session;
    if (this.state !== 'joined' || !session) {
      return Promise.reject(new WebsocketError('Request failed as connection to the server has disconnected'));
    }
    return session.signal.subscription(kind, p.connectionId, tids);
  }

  /** Resolves when `done()` holds, re-checked whenever media of `tids` changes; false on timeout. */
  private waitForMedia(tids: string[], done: () => boolean, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      let finished = false;
      const check = () => {
        if (!done() && this.state !== 'left') return;
        finish(true);
      };
      const finish = (ok: boolean) => {
        if (finished) return;
        finished = true;
        this.runtime.clearTimeout(timer);
        for (const tid of tids) this.mediaWaiters.get(tid)?.delete(check);
        resolve(ok);
      };
      const timer = this.runtime.setTimeout(() => finish(false), timeoutMs);
      for (const tid of tids) {
        let set = this.mediaWaiters.get(tid);
        if (!set) this.mediaWaiters.set(tid, (set = new Set()));
        set.add(check);
      }
      check();
    });
  }

  private wake(tid: string): void {
    const set = this.mediaWaiters.get(tid);
    if (!set) return;
    for (const w of [...set]) w();
    if (set.size === 0) this.mediaWaiters.delete(tid);
  }

  private async subscribe(p: RemoteParticipant): Promise<void> {
    const tids = p.getTracks().map((t) => t.tid);
    try {
      await this.requestSubscription('subscribe_tracks', p, tids);
    } catch (e) {
      throw e instanceof SubscriptionError ? e : new SubscriptionError(e instanceof Error ? e.message : 'Unknown error subscribing to participant');
    }
    // Media that came while not subscribed is announced now.
    for (const t of p.getTracks()) if (t.hasMedia() && !t.announced && p.isSubscribed()) this.announce(p, t);
    const current = () => p.getTracks().filter((t) => tids.includes(t.tid));
    const ok = await this.waitForMedia(tids, () => current().every((t) => t.announced) || !p.isSubscribed(), SUBSCRIBE_MEDIA_TIMEOUT_MS);
    if (!ok) throw new SubscriptionError('Subscribed, but the media did not arrive in time');
  }

  private async unsubscribe(p: RemoteParticipant): Promise<void> {
    const tids = p.getTracks().map((t) => t.tid);
    try {
      await this.requestSubscription('unsubscribe_tracks', p, tids);
    } catch (e) {
      throw e instanceof SubscriptionError ? e : new SubscriptionError(e instanceof Error ? e.message : 'Unknown error unsubscribing to participant');
    }
    const withMedia = () => p.getTracks().filter((t) => tids.includes(t.tid) && t.hasMedia());
    const ok = await this.waitForMedia(tids, () => withMedia().length === 0 || p.isSubscribed(), UNSUBSCRIBE_MEDIA_TIMEOUT_MS);
    // The server stopped the media; if its renegotiation is late, stop listening to it anyway.
    if (!ok && !p.isSubscribed()) for (const t of withMedia()) this.unsubscribeTrack(p, t);
  }

  // ---------------------------------------------------------------- backends for participants

  private remoteBackend: RemoteBackend = {
    mode: () => this.options.subscriptionMode,
    subscribe: (p) => this.subscribe(p),
    unsubscribe: (p) => this.unsubscribe(p),
  };

  private localBackend: LocalBackend = {
    limits: () => this.limits,
    connected: () => this.state === 'joined' || this.state === 'reconnecting',
    uuid: () => this.runtime.uuid(),
    publish: (tracks: LocalTrack[]) => {
      if (this.state === 'joined') this.session?.publisher?.add(tracks);
      else if (this.state !== 'reconnecting') throw new PublishTrackError('Not connected to the space');
      // While reconnecting: published with the others once reconnected.
    },
    unpublish: (tracks: LocalTrack[]) => {
      if (this.state === 'joined') this.session?.publisher?.remove(tracks.map((t) => t.tid));
    },
    replace: (track: LocalTrack) => {
      if (this.state === 'joined') this.session?.publisher?.replace(track);
    },
    mute: (track: LocalTrack, muted: boolean) => {
      if (this.state !== 'joined' || !this.session) return; // republished with its state after a reconnection
      const message: ClientMessage = muted ? { mute_track: track.tid } : { unmute_track: track.tid };
      this.session.send(message);
    },
    request: <T>(message: ClientMessage & { request_id: string }): Promise<T> => {
      if (this.state !== 'joined' || !this.session) {
        return Promise.reject(new WebsocketError('Request failed as connection to the server has disconnected'));
      }
      return this.session.signal.request<T>(message);
    },
    trackPublished: (track) => this.localParticipant && this.emit(SpaceEvent.ParticipantTrackPublished, this.localParticipant, track),
    trackUnpublished: (track) =>
      this.localParticipant && this.emit(SpaceEvent.ParticipantTrackUnpublished, this.localParticipant, track),
    customEventPublished: (event) =>
      this.localParticipant && this.emit(SpaceEvent.ParticipantCustomEventPublished, this.localParticipant, event),
    displayNameChanged: () => this.localParticipant && this.emit(SpaceEvent.ParticipantDisplayNameChanged, this.localParticipant),
  };
}
