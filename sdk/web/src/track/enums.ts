/**
 * TrackKind specifies the type of a track.
 */
export enum TrackKind {
  /** Audio track */
  Audio = 1,
  /** Video track */
  Video = 2,
}

/**
 * TrackSource specifies the source of a track. It is not derived from a MediaStreamTrack
 * property; it tells apart a camera from a screen share, for example.
 */
export enum TrackSource {
  /** A track containing webcam video */
  Camera = 'camera',
  /** A track containing microphone audio */
  Microphone = 'microphone',
  /** A track containing screenshare video */
  Screenshare = 'screenshare',
  /** A track containing screenshare audio */
  ScreenshareAudio = 'screenshareaudio',
  /** A track that explicitly doesn't match one of the other sources */
  Other = 'other',
}
