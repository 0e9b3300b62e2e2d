// Capture helpers: getUserMedia / getDisplayMedia with the SDK's default and maximum
// resolutions, and LocalTracks from any MediaStream.

import { Logger } from './logger';
import type { CreateLocalMediaOptions } from './participant/options';
import { defaultRuntime, windowValue } from './runtime';
import { TrackKind, TrackSource } from './track/enums';
import { LocalTrack } from './track/LocalTrack';
import type { LocalTrackOptions } from './track/options';

const log = new Logger('media');

const CAMERA = { width: 1280, height: 720 };
const SCREEN = { width: 2560, height: 1440 };

/** LocalTrackOptions → MediaTrackConstraints (`constraints` merged in, `name` dropped). */
function constraintsOf(options: LocalTrackOptions): MediaTrackConstraints {
  const { name: _name, constraints, ...rest } = options as LocalTrackOptions & { metadata?: unknown };
  delete (rest as { metadata?: unknown }).metadata;
  return { ...rest, ...constraints };
}

/** Caps the video size: a number is clamped (with a warning), a range beyond the cap throws. */
function capVideo(c: MediaTrackConstraints, screen: boolean): MediaTrackConstraints {
  const cap = screen ? SCREEN : CAMERA;
  const what = screen ? 'Screensharing in Oriel is capped at 2560x1440' : 'Camera video in Oriel is capped at 1280x720';
  const out: MediaTrackConstraints = { ...c };
  for (const dim of ['width', 'height'] as const) {
    const value = out[dim];
    if (value === undefined) {
      out[dim] = cap[dim];
    } else if (typeof value === 'number') {
      if (value > cap[dim]) {
        log.warn(`${what}: ${dim} set to ${cap[dim]}`);
        out[dim] = cap[dim];
      }
    } else if (typeof value === 'object' && value !== null) {
      const { min, ideal, max, exact } = value as ConstrainULongRange & { exact?: number };
      if ([min, ideal, max, exact].some((v) => typeof v === 'number' && v > cap[dim])) {
        throw new Error(`Invalid ${screen ? 'screenshare' : 'camera'} video ${dim} constraints. ${what}.`);
      }
    } else {
      throw new Error(`Invalid video ${dim} constraint. See https://developer.mozilla.org/en-US/docs/Web/API/MediaDevices/getUserMedia for valid constraints`);
    }
  }
  return out;
}

function audioConstraints(option: LocalTrackOptions | boolean | undefined, byDefault: boolean): MediaTrackConstraints | false {
  if (option === undefined) return byDefault ? {} : false;
  if (typeof option === 'boolean') return option ? {} : false;
  return constraintsOf(option);
}

function videoConstraints(option: LocalTrackOptions | boolean | undefined, screen: boolean): MediaTrackConstraints | false {
  const cap = screen ? SCREEN : CAMERA;
  if (option === false) return false;
  if (option === undefined || option === true) return { ...cap };
  return capVideo(constraintsOf(option), screen);
}

/** A LocalTrack for a captured MediaStreamTrack. */
function localTrack(track: MediaStreamTrack, source: TrackSource, options: CreateLocalMediaOptions | undefined): LocalTrack {
  const kind = track.kind === 'audio' ? TrackKind.Audio : TrackKind.Video;
  const option = kind === TrackKind.Audio ? options?.audio : options?.video;
  const settings = track.getSettings();
  return new LocalTrack(
    {
      tid: defaultRuntime.uuid(),
      kind,
      name: typeof option === 'object' && option?.name ? option.name : track.label,
      muted: false,
      source,
      width: settings.width || 0,
      height: settings.height || 0,
      metadata: {},
    },
    track,
    settings.deviceId,
  );
}

function mediaDevices(): MediaDevices {
  const devices = (globalThis as any).navigator?.mediaDevices as MediaDevices | undefined;
  if (!devices) throw new Error('navigator.mediaDevices is not available (a secure context, https or localhost, is needed)');
  return devices;
}

/**
 * Captures the camera and/or microphone (both by default) and returns them as LocalTracks with
 * sources [[TrackSource.Camera]] and [[TrackSource.Microphone]]. The camera defaults to, and is
 * capped at, 1280x720.
 *
 * ```typescript
 * const tracks = await getUserMedia({ audio: true, video: { name: 'Front camera' } });
 * ```
 */
export async function getUserMedia(options?: CreateLocalMediaOptions): Promise<LocalTrack[]> {
  const video = videoConstraints(options?.video, false);
  const audio = audioConstraints(options?.audio, true);
  const stream = await mediaDevices().getUserMedia({ video, audio });
  return stream.getTracks().map((t) => localTrack(t, t.kind === 'audio' ? TrackSource.Microphone : TrackSource.Camera, options));
}

/**
 * Captures a screen, window or tab (the browser asks the user which) and returns it as
 * LocalTracks with sources [[TrackSource.Screenshare]] (and [[TrackSource.ScreenshareAudio]]
 * with `audio: true`). Defaults to, and is capped at, 2560x1440 at 15 fps. Once published, the
 * tracks are unpublished by themselves when the user stops sharing.
 */
export async function getDisplayMedia(options?: CreateLocalMediaOptions): Promise<LocalTrack[]> {
  const video = videoConstraints(options?.video ?? true, true);
  const audio = audioConstraints(options?.audio, false);
  const frameRate = windowValue('MUX_SPACES_GOOD_VIDEO') === true ? 30 : 15;
  const stream = await mediaDevices().getDisplayMedia({ video: video ? { ...video, frameRate } : false, audio });
  return stream.getTracks().map((t) => {
    if (t.kind === 'video' && 'contentHint' in t) t.contentHint = 'detail';
    return localTrack(t, t.kind === 'audio' ? TrackSource.ScreenshareAudio : TrackSource.Screenshare, options);
  });
}

/**
 * LocalTracks (source [[TrackSource.Other]]) from any MediaStream: a `<canvas>`, a `<video>`...
 * Each track's tid is its MediaStreamTrack id.
 *
 * @param streamName human readable name used as each track's [[LocalTrack.name]]
 * @param stream
 */
export async function getLocalTracksFromMediaStream(streamName: string, stream: MediaStream): Promise<LocalTrack[]> {
  return stream.getTracks().map((t) => {
    if (t.kind !== 'audio' && t.kind !== 'video') {
      throw new Error(`Unknown track kind, expected one of [audio, video] got "${t.kind}"`);
    }
    const settings = t.getSettings();
    const width = settings.width || 0;
    const height = settings.height || 0;
    if (width > SCREEN.width || height > SCREEN.height) throw new Error(`Video track must be within dimensions of ${SCREEN.width}x${SCREEN.height}`);
    return new LocalTrack(
      {
        tid: t.id,
        kind: t.kind === 'audio' ? TrackKind.Audio : TrackKind.Video,
        name: streamName || t.id,
        muted: false,
        source: TrackSource.Other,
        width,
        height,
        metadata: {},
      },
      t,
      settings.deviceId,
    );
  });
}
