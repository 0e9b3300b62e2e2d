import type { CustomEvent } from '../space/types';
import type { LocalTrack } from '../track/LocalTrack';
import type { RemoteTrack } from '../track/RemoteTrack';

/**
 * Events emitted by {@link RemoteParticipant} and {@link LocalParticipant}:
 *
 * ```typescript
 * participant.on(ParticipantEvent.TrackPublished, (track) => {});
 * ```
 */
export enum ParticipantEvent {
  /**
   * When the participant has muted a track
   *
   * args: ([[RemoteTrack]] | [[LocalTrack]])
   */
  TrackMuted = 'TrackMuted',
  /**
   * When the participant has unmuted a track
   *
   * args: ([[RemoteTrack]] | [[LocalTrack]])
   */
  TrackUnmuted = 'TrackUnmuted',
  /**
   * When the participant has published a track (this does not mean media is received yet)
   *
   * args: ([[RemoteTrack | LocalTrack]])
   */
  TrackPublished = 'TrackPublished',
  /**
   * When the participant has unpublished a track, or left the space. The track is also
   * unsubscribed by then.
   *
   * args: ([[RemoteTrack | LocalTrack]])
   */
  TrackUnpublished = 'TrackUnpublished',
  /**
   * When the local participant receives media of this remote track (not emitted on
   * [[LocalParticipant]])
   *
   * args: ([[RemoteTrack]])
   */
  TrackSubscribed = 'TrackSubscribed',
  /**
   * When the local participant no longer receives media of this remote track (not emitted on
   * [[LocalParticipant]])
   *
   * args: ([[RemoteTrack]])
   */
  TrackUnsubscribed = 'TrackUnsubscribed',
  /**
   * When the participant has become an active speaker
   *
   * args: ()
   */
  StartedSpeaking = 'StartedSpeaking',
  /**
   * When the participant is no longer an active speaker
   *
   * args: ()
   */
  StoppedSpeaking = 'StoppedSpeaking',
  /**
   * When the participant has published a custom event
   *
   * args: ([[CustomEvent]])
   */
  CustomEventPublished = 'CustomEventPublished',
  /**
   * When the participant's display name has changed
   *
   * args: ()
   */
  DisplayNameChanged = 'DisplayNameChanged',
}

/** Listener signatures of {@link ParticipantEvent} on a {@link RemoteParticipant}. */
export interface RemoteParticipantEvents {
  TrackMuted: (track: RemoteTrack) => void;
  TrackUnmuted: (track: RemoteTrack) => void;
  TrackPublished: (track: RemoteTrack) => void;
  TrackUnpublished: (track: RemoteTrack) => void;
  TrackSubscribed: (track: RemoteTrack) => void;
  TrackUnsubscribed: (track: RemoteTrack) => void;
  StartedSpeaking: () => void;
  StoppedSpeaking: () => void;
  CustomEventPublished: (event: CustomEvent) => void;
  DisplayNameChanged: () => void;
}

/** Listener signatures of {@link ParticipantEvent} on the {@link LocalParticipant}. */
export interface LocalParticipantEvents {
  TrackMuted: (track: LocalTrack) => void;
  TrackUnmuted: (track: LocalTrack) => void;
  TrackPublished: (track: LocalTrack) => void;
  TrackUnpublished: (track: LocalTrack) => void;
  StartedSpeaking: () => void;
  StoppedSpeaking: () => void;
  CustomEventPublished: (event: CustomEvent) => void;
  DisplayNameChanged: () => void;
}
