// What participants need from the space they belong to. The Space implements these; the
// participant classes hold no connection state of their own.

import type { ClientMessage, WireLimits } from '../signaling/protocol';
import type { SubscriptionMode } from '../space/options';
import type { CustomEvent } from '../space/types';
import type { LocalTrack } from '../track/LocalTrack';
import type RemoteParticipant from './RemoteParticipant';

/** @internal */
export interface LocalBackend {
  /** The server's limits from `joined`. */
  limits(): WireLimits;
  /** Whether the space can still carry requests (joined or reconnecting). */
  connected(): boolean;
  uuid(): string;
  /** Sends new tracks (now, or after a reconnection). */
  publish(tracks: LocalTrack[]): void;
  unpublish(tracks: LocalTrack[]): void;
  /** Replaces the media of a published track without renegotiating. */
  replace(track: LocalTrack): void;
  mute(track: LocalTrack, muted: boolean): void;
  request<T>(message: ClientMessage & { request_id: string }): Promise<T>;
  /** Space events about the local participant. */
  trackPublished(track: LocalTrack): void;
  trackUnpublished(track: LocalTrack): void;
  customEventPublished(event: CustomEvent): void;
  displayNameChanged(): void;
}

/** @internal */
export interface RemoteBackend {
  mode(): SubscriptionMode;
  subscribe(participant: RemoteParticipant): Promise<void>;
  unsubscribe(participant: RemoteParticipant): Promise<void>;
}
