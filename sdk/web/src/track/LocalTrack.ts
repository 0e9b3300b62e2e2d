import { Track, type TrackParams } from './Track';
import { TrackEvent } from './events';

/** A track captured by this browser (camera, microphone, screen, or any MediaStreamTrack). */
export class LocalTrack extends Track {
  /**
   * DeviceID of the device that is currently being used for this track
   * (undefined for screen shares in Firefox).
   */
  deviceId?: string;
  declare track: MediaStreamTrack;
  /** @internal */
  isPublished = false;
  /**
   * Told about mute changes of a published track (the LocalParticipant signals them).
   *
   * @internal
   */
  muteObserver?: (track: LocalTrack, muted: boolean) => void;

  /** @internal */
  constructor(params: TrackParams, track: MediaStreamTrack, deviceId?: string) {
    super(params, track);
    this.deviceId = deviceId;
  }

  /** Stops sending media (the track sends silence or black) and tells the others it is muted. */
  mute(): void {
    if (this.muted) return;
    this.muted = true;
    this.track.enabled = false;
    this.emit(TrackEvent.Muted);
    this.muteObserver?.(this, true);
  }

  /** Sends media again and tells the others. */
  unMute(): void {
    if (!this.muted) return;
    this.muted = false;
    this.track.enabled = true;
    this.emit(TrackEvent.Unmuted);
    this.muteObserver?.(this, false);
  }

  /** Stop capturing media from the track. */
  stop(): void {
    this.track.stop();
  }
}
