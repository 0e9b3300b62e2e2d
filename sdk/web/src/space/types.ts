import type LocalParticipant from '../participant/LocalParticipant';
import type RemoteParticipant from '../participant/RemoteParticipant';
import type { LocalTrack } from '../track/LocalTrack';
import type { RemoteTrack } from '../track/RemoteTrack';

/** The scope of a custom event; the SDK always publishes to the whole session. */
export enum CustomEventScope {
  UNKNOWN = 0,
  SESSION = 1,
}

/** A participant that is speaking, with the track it speaks on. */
export type ActiveSpeaker = {
  participant: RemoteParticipant | LocalParticipant;
  track: RemoteTrack | LocalTrack;
};

/** A custom event published to the space. */
export type CustomEvent = {
  /** The string the sender published. */
  payload: string;
  /** The server-assigned order of the event in the session. */
  sequenceNumber: number;
  scope: CustomEventScope;
};
