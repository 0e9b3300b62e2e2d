
/** Events emitted by a {@link Track}. */
export enum TrackEvent {
  /**
   * When the track has been muted
   *
   * args: ()
   */
  Muted = 'Muted',
  /**
   * When the track has been unmuted
   *
   * args: ()
   */
  Unmuted = 'Unmuted',
}

/** Listener signatures of {@link TrackEvent}. */
export interface TrackEvents {
  Muted: () => void;
  Unmuted: () => void;
}
