/**
 * Options for a {@link LocalTrack} made with {@link getUserMedia} or {@link getDisplayMedia}.
 */
export interface LocalTrackOptions extends MediaTrackConstraints {
  /** A name for the resulting track: it populates {@link Track.name} (also for the others). */
  name?: string;
  /**
   * Constraints for the media, as given to `navigator.mediaDevices.getUserMedia`
   * (https://developer.mozilla.org/en-US/docs/Web/API/MediaTrackConstraints).
   */
  constraints?: MediaTrackConstraints;
}
