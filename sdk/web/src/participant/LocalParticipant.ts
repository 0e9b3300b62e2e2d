import { TypedEventEmitter } from '../emitter';
import {
  PublishCustomEventError,
  PublishTrackError,
  SetDisplayNameError,
  UnpublishTrackError,
  UpdateTrackError,
} from '../errors/externalErrors';
import { Logger } from '../logger';
import type { CustomEventWire } from '../signaling/protocol';
import type { CustomEvent } from '../space/types';
import { TrackSource } from '../track/enums';
import { LocalTrack } from '../track/LocalTrack';
import type { LocalBackend } from './backends';
import { ParticipantRole } from './enums';
import { ParticipantEvent, type LocalParticipantEvents } from './events';

const log = new Logger('LocalParticipant');

/** Largest custom event payload, in UTF-8 bytes. */
export const MAX_CUSTOM_EVENT_BYTES = 4096;
/** Longest display name, in characters. */
export const MAX_DISPLAY_NAME_CHARS = 64;

/** Whether `name` may be a display name (the server also refuses ""). */
export function isDisplayNameValid(name: unknown): name is string {
  return typeof name === 'string' && [...name].length <= MAX_DISPLAY_NAME_CHARS;
}

/**
 * The sender's custom event: the public shape plus the wire fields, which `@mux/spaces-web`
 * resolved `publishCustomEvent()` with (kept so that code written against it keeps working).
 */
export function senderCustomEvent(wire: CustomEventWire): CustomEvent & { id: string; connection_id: string; sequence_num: number } {
  return {
    payload: wire.payload,
    sequenceNumber: wire.sequence_num,
    scope: wire.scope,
    id: wire.id,
    connection_id: wire.connection_id,
    sequence_num: wire.sequence_num,
  };
}

const utf8Length = (s: string): number => new TextEncoder().encode(s).length;

/**
 * The LocalParticipant is this browser in the space: it publishes tracks and custom events,
 * and sets its display name.
 *
 * @noInheritDoc
 */
export default class LocalParticipant extends TypedEventEmitter<LocalParticipantEvents> {
  /** The participant id: the `participant_id` claim of the join token (else the connection id). */
  id: string;
  /** A unique id for this connection (new after each reconnection). */
  connectionId: string;
  /** Published audio tracks, by tid. */
  audioTracks = new Map<string, LocalTrack>();
  /** Published video tracks, by tid. */
  videoTracks = new Map<string, LocalTrack>();
  /** The role of the join token: [[ParticipantRole.Publisher]] unless it says `subscriber`. */
  role: ParticipantRole;
  /** The display name of the participant. */
  displayName: string;
  private backend: LocalBackend;
  /** Custom-event token bucket: tokens left and when it was last refilled. */
  private eventTokens = -1;
  private eventRefilledAt = 0;
  private nextDisplayNameAt = 0;

  /** @internal */
  constructor(backend: LocalBackend, connectionId: string, role: ParticipantRole, id: string, displayName: string) {
    super();
    this.backend = backend;
    this.connectionId = connectionId;
    this.role = role;
    this.id = id || connectionId;
    this.displayName = displayName;
  }

  /**
   * Publishes a string (up to 4 KiB of UTF-8) to everyone in the space. Resolves once the
   * server has ordered it; emits [[SpaceEvent.ParticipantCustomEventPublished]] and
   * [[ParticipantEvent.CustomEventPublished]] for this participant then.
   */
  async publishCustomEvent(payload: string): Promise<CustomEvent> {
    if (this.role !== ParticipantRole.Publisher) {
      throw new PublishCustomEventError('Only participants with the publisher role can publish custom events');
    }
    if (typeof payload !== 'string') throw new PublishCustomEventError('Cannot publish a payload which is not a string');
    if (utf8Length(payload) > MAX_CUSTOM_EVENT_BYTES) {
      throw new PublishCustomEventError('String payload cannot be over 4 kilobytes in size');
    }
    const perSecond = this.backend.limits().custom_events_per_second;
    if (!this.takeEventToken(perSecond)) {
      throw new PublishCustomEventError(`Cannot publish more than ${perSecond} custom events per second`);
    }
    const id = this.backend.uuid();
    const wire = await this.backend.request<CustomEventWire>({ custom_event: { id, payload, scope: 1 }, request_id: id });
    const event = senderCustomEvent(wire);
    this.emit(ParticipantEvent.CustomEventPublished, event);
    this.backend.customEventPublished(event);
    return event;
  }

  /**
   * Sets the display name (up to 64 characters; at most once per
   * `seconds_per_set_display_name`). Emits [[SpaceEvent.ParticipantDisplayNameChanged]] and
   * [[ParticipantEvent.DisplayNameChanged]] once the server accepted it.
   */
  async setDisplayName(displayName: string): Promise<LocalParticipant> {
    if (!isDisplayNameValid(displayName)) throw new SetDisplayNameError(`May not set invalid display name: ${displayName}`);
    const seconds = this.backend.limits().seconds_per_set_display_name;
    if (Date.now() < this.nextDisplayNameAt) throw new SetDisplayNameError(`May only set display name every ${seconds} seconds`);
    this.nextDisplayNameAt = Date.now() + seconds * 1000;
    let reply: { display_name?: string };
    try {
      reply = await this.backend.request<{ display_name?: string }>({ set_display_name: displayName, request_id: this.backend.uuid() });
    } catch (error) {
      this.nextDisplayNameAt = 0; // a refused name does not use up the allowance
      throw error;
    }
    this.displayName = typeof reply.display_name === 'string' ? reply.display_name : displayName;
    this.emit(ParticipantEvent.DisplayNameChanged);
    this.backend.displayNameChanged();
    return this;
  }

  /**
   * Publishes tracks to the space. [[SpaceEvent.ParticipantTrackPublished]] fires for each at
   * once; the media follows as soon as the server has answered. Screen-share tracks are
   * unpublished by themselves when the browser's capture ends.
   */
  async publishTracks(tracks: LocalTrack[]): Promise<LocalTrack[]> {
    if (this.role === ParticipantRole.Subscriber) throw new PublishTrackError('Cannot publish tracks as a subscriber only participant');
    if (!Array.isArray(tracks) || tracks.length === 0) throw new PublishTrackError('No valid tracks found to publish');
    if (tracks.some((t) => !(t instanceof LocalTrack) || !t.track)) throw new PublishTrackError('Only LocalTracks with media can be published');
    if (tracks.some((t) => t.isPublished || this.hasLocalTrack(t))) throw new PublishTrackError('Cannot publish an already published LocalTrack');
    if (new Set(tracks.map((t) => t.tid)).size !== tracks.length) throw new PublishTrackError('Cannot publish the same LocalTrack twice');
    if (!this.backend.connected()) throw new PublishTrackError('Not connected to the space');
    const over = this.sourceOverLimit(tracks);
    if (over) throw new PublishTrackError(`Cannot publish more than ${this.backend.limits().default_track_limit} ${over} tracks`);
    for (const track of tracks) {
      this.addLocalTrack(track);
      if (track.source === TrackSource.Screenshare || track.source === TrackSource.ScreenshareAudio) {
        track.track.addEventListener('ended', () => {
          if (this.hasLocalTrack(track)) this.unpublishTracks([track]);
        });
      }
    }
    this.backend.publish(tracks);
    return tracks;
  }

  /**
   * Replaces the media of published tracks, matched by source (a new camera for the camera, a
   * new microphone for the microphone...), without renegotiating: the others keep the same
   * tid. A source that is not published is skipped.
   *
   * @returns all LocalTracks that were updated
   */
  updateTracks(tracks: LocalTrack[]): LocalTrack[] {
    if (this.role === ParticipantRole.Subscriber) throw new UpdateTrackError('Updating tracks not allowed for subscriber only participants');
    const updated: LocalTrack[] = [];
    for (const track of tracks) {
      const old = this.getTracks().find((t) => t.source === track.source && t !== track);
      if (!old) {
        log.warn(`no published ${track.source} track to update`);
        continue;
      }
      const elements = old.attachedElements;
      old.detach();
      old.muteObserver = undefined;
      old.removeAllListeners();
      old.stop();
      old.isPublished = false;
      this.mapFor(old).delete(old.tid);
      track.tid = old.tid;
      track.muted = old.muted;
      track.track.enabled = !old.muted;
      track.name = old.name;
      track.metadata = old.metadata;
      this.backend.replace(track);
      this.emit(ParticipantEvent.TrackUnpublished, old);
      this.backend.trackUnpublished(old);
      this.addLocalTrack(track);
      for (const el of elements) track.attach(el);
      updated.push(track);
    }
    return updated;
  }

  /** Unpublishes every track; `stop` (default true) also stops their capture. */
  unpublishAllTracks(options: { stop: boolean } = { stop: true }): void {
    if (this.role === ParticipantRole.Subscriber) throw new UnpublishTrackError('Unpublishing not allowed for subscriber only participants');
    this.unpublishTracks(this.getTracks(), options);
  }

  /** Unpublishes tracks; `stop` (default true) also stops their capture. */
  unpublishTracks(tracks: LocalTrack[], options: { stop: boolean } = { stop: true }): void {
    if (this.role === ParticipantRole.Subscriber) throw new UnpublishTrackError('Unpublishing not allowed for subscriber only participants');
    if (!tracks) return;
    const removed: LocalTrack[] = [];
    for (const track of tracks) {
      const own = this.hasLocalTrack(track);
      if (!own) {
        log.warn("tried unpublishing a track that isn't published");
        continue;
      }
      this.mapFor(own).delete(own.tid);
      own.muteObserver = undefined;
      own.isPublished = false;
      if (options?.stop !== false) {
        own.detach();
        own.stop();
      }
      removed.push(own);
      this.emit(ParticipantEvent.TrackUnpublished, own);
      this.backend.trackUnpublished(own);
    }
    if (removed.length) this.backend.unpublish(removed);
  }

  /** The published video tracks. */
  getVideoTracks(): LocalTrack[] {
    return [...this.videoTracks.values()];
  }

  /** The published audio tracks. */
  getAudioTracks(): LocalTrack[] {
    return [...this.audioTracks.values()];
  }

  /** The published tracks (audio, then video). */
  getTracks(): LocalTrack[] {
    return [...this.getAudioTracks(), ...this.getVideoTracks()];
  }

  private hasLocalTrack(track: LocalTrack): LocalTrack | undefined {
    return this.getTracks().find((t) => t === track || t.tid === track.tid);
  }

  private mapFor(track: LocalTrack): Map<string, LocalTrack> {
    return track.kind === 1 ? this.audioTracks : this.videoTracks;
  }

  private addLocalTrack(track: LocalTrack): void {
    this.mapFor(track).set(track.tid, track);
    track.isPublished = true;
    track.muteObserver = (t, muted) => {
      this.backend.mute(t, muted);
      this.emit(muted ? ParticipantEvent.TrackMuted : ParticipantEvent.TrackUnmuted, t);
    };
    this.emit(ParticipantEvent.TrackPublished, track);
    this.backend.trackPublished(track);
  }

  /** The first source that would exceed `default_track_limit` with `tracks` added. */
  private sourceOverLimit(tracks: LocalTrack[]): string | undefined {
    const limit = this.backend.limits().default_track_limit;
    const counts = new Map<string, number>();
    for (const t of [...this.getTracks(), ...tracks]) {
      const n = (counts.get(t.source) ?? 0) + 1;
      counts.set(t.source, n);
      if (n > limit) return t.source;
    }
    return undefined;
  }

  /** Token bucket: `perSecond` events per second, bursts of up to `perSecond`. */
  private takeEventToken(perSecond: number): boolean {
    const now = Date.now();
    if (this.eventTokens < 0) {
      this.eventTokens = perSecond;
      this.eventRefilledAt = now;
    }
    this.eventTokens = Math.min(perSecond, this.eventTokens + ((now - this.eventRefilledAt) / 1000) * perSecond);
    this.eventRefilledAt = now;
    if (this.eventTokens < 1) return false;
    this.eventTokens -= 1;
    return true;
  }
}
