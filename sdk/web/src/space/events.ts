import type { DisconnectedError } from '../errors/externalErrors';
import type LocalParticipant from '../participant/LocalParticipant';
import type RemoteParticipant from '../participant/RemoteParticipant';
import type { LocalTrack } from '../track/LocalTrack';
import type { RemoteTrack } from '../track/RemoteTrack';
import type { ActiveSpeaker, CustomEvent } from './types';

/**
 * Events are how a space gives state updates:
 *
 * ```typescript
 * space.on(SpaceEvent.ParticipantJoined, (participant) => {});
 * ```
 */
export enum SpaceEvent {
  /**
   * When the local participant reconnects to the space
   *
   * args: ([[LocalParticipant]])
   */
  LocalParticipantReconnected = 'LocalParticipantReconnected',
  /**
   * When the connection to the server has broken, and the Space is attempting to reconnect.
   *
   * args: ()
   */
  LocalParticipantReconnecting = 'LocalParticipantReconnecting',
  /**
   * When the connection to the server has broken and attempts at a reconnect have failed, or
   * the server ended the connection for good.
   *
   * args: ([[DisconnectedError]])
   */
  LocalParticipantReconnectFailed = 'LocalParticipantReconnectFailed',
  /**
   * When a remote participant has joined the space (also for those already in at join time)
   *
   * args: ([[RemoteParticipant]])
   */
  ParticipantJoined = 'ParticipantJoined',
  /**
   * When a remote participant has left the space
   *
   * args: ([[RemoteParticipant]])
   */
  ParticipantLeft = 'ParticipantLeft',
  /**
   * When a participant has published a new track (also for the local participant). This does
   * not mean media is received yet.
   *
   * args: ([[RemoteParticipant]] | [[LocalParticipant]], [[RemoteTrack]] | [[LocalTrack]])
   */
  ParticipantTrackPublished = 'ParticipantTrackPublished',
  /**
   * When a participant stops publishing a track, or leaves the space.
   *
   * args: ([[RemoteParticipant]] | [[LocalParticipant]], [[RemoteTrack]] | [[LocalTrack]])
   */
  ParticipantTrackUnpublished = 'ParticipantTrackUnpublished',
  /**
   * When media of a remote participant's track starts arriving
   *
   * args: ([[RemoteParticipant]], [[RemoteTrack]])
   */
  ParticipantTrackSubscribed = 'ParticipantTrackSubscribed',
  /**
   * When media of a remote participant's track stops arriving
   *
   * args: ([[RemoteParticipant]], [[RemoteTrack]])
   */
  ParticipantTrackUnsubscribed = 'ParticipantTrackUnsubscribed',
  /**
   * When a remote participant mutes a track
   *
   * args: ([[RemoteParticipant]], [[RemoteTrack]])
   */
  ParticipantTrackMuted = 'ParticipantTrackMuted',
  /**
   * When a remote participant unmutes a track
   *
   * args: ([[RemoteParticipant]], [[RemoteTrack]])
   */
  ParticipantTrackUnmuted = 'ParticipantTrackUnmuted',
  /**
   * When the active speakers have changed: all current active speakers and their speaking track
   *
   * args: (Array<[[ActiveSpeaker]]>)
   */
  ActiveSpeakersChanged = 'ActiveSpeakersChanged',
  /**
   * When a broadcast of the space starts (true) or stops (false)
   *
   * args: (boolean)
   */
  BroadcastStateChanged = 'BroadcastStateChanged',
  /**
   * When a participant has published a custom event; the first argument is the sender
   *
   * args: ([[RemoteParticipant]] | [[LocalParticipant]], [[CustomEvent]])
   */
  ParticipantCustomEventPublished = 'ParticipantCustomEventPublished',
  /**
   * When a participant's display name has changed
   *
   * args: ([[LocalParticipant|RemoteParticipant]])
   */
  ParticipantDisplayNameChanged = 'ParticipantDisplayNameChanged',
}

/** Listener signatures of {@link SpaceEvent}. */
export interface SpaceEvents {
  LocalParticipantReconnected: (participant: LocalParticipant) => void;
  LocalParticipantReconnecting: () => void;
  LocalParticipantReconnectFailed: (error: DisconnectedError) => void;
  ParticipantJoined: (participant: RemoteParticipant) => void;
  ParticipantLeft: (participant: RemoteParticipant) => void;
  ParticipantTrackPublished: (
    participant: RemoteParticipant | LocalParticipant,
    track: RemoteTrack | LocalTrack,
  ) => void;
  ParticipantTrackUnpublished: (
    participant: RemoteParticipant | LocalParticipant,
    track: RemoteTrack | LocalTrack,
  ) => void;
  ParticipantTrackSubscribed: (participant: RemoteParticipant, track: RemoteTrack) => void;
  ParticipantTrackUnsubscribed: (participant: RemoteParticipant, track: RemoteTrack) => void;
  ParticipantTrackMuted: (participant: RemoteParticipant, track: RemoteTrack) => void;
  ParticipantTrackUnmuted: (participant: RemoteParticipant, track: RemoteTrack) => void;
  ActiveSpeakersChanged: (speakers: ActiveSpeaker[]) => void;
  BroadcastStateChanged: (broadcasting: boolean) => void;
  ParticipantCustomEventPublished: (
    participant: RemoteParticipant | LocalParticipant,
    event: CustomEvent,
  ) => void;
  ParticipantDisplayNameChanged: (participant: RemoteParticipant | LocalParticipant) => void;
}
