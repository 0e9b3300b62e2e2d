import { Track } from './Track';

/** A track of a {@link RemoteParticipant}. `track` is set while its media is received. */
export class RemoteTrack extends Track {
  /**
   * Whether TrackSubscribed was emitted for the current media.
   *
   * @internal
   */
  announced = false;
}
