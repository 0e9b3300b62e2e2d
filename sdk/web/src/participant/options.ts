import type { LocalTrackOptions } from '../track/options';

/**
 * Options for {@link getUserMedia} and {@link getDisplayMedia}: `true` for the default
 * constraints, `false` for none, or {@link LocalTrackOptions}.
 *
 * ```typescript
 * getUserMedia({ video: true });                                    // camera only
 * getUserMedia({ audio: { deviceId: { exact: micId }, name: 'Mic' }, video: true });
 * ```
 */
export interface CreateLocalMediaOptions {
  /** options for configuring local audio */
  audio?: LocalTrackOptions | boolean;
  /** options for configuring local video */
  video?: LocalTrackOptions | boolean;
}
