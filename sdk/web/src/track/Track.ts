import { TypedEventEmitter } from '../emitter';
import { TrackKind, TrackSource } from './enums';
import type { TrackEvents } from './events';

/** What the server (or a capture) says about a track. */
export interface TrackParams {
  tid: string;
  kind: TrackKind;
  name: string;
  muted: boolean;
  source: TrackSource;
  width: number;
  height: number;
  metadata: Record<string, unknown>;
}

const SOURCES = new Set<string>(Object.values(TrackSource));

/** A source string from the wire; anything unknown is `other`. */
export function toTrackSource(source: unknown): TrackSource {
  return typeof source === 'string' && SOURCES.has(source) ? (source as TrackSource) : TrackSource.Other;
}

/**
 * A Track is a participant's audio or video: its description, and its media
 * (`MediaStreamTrack`) once there is some.
 *
 * @noInheritDoc
 */
export class Track extends TypedEventEmitter<TrackEvents> {
  /** A unique id for this track. */
  tid: string;
  /** The MediaStreamTrack that contains the media for this track (remote: once subscribed). */
  track?: MediaStreamTrack;
  /** A name for this track. */
  name: string;
  /** The mute status of this track. */
  muted: boolean;
  /** The source of this track, set when the track is created. */
  source: TrackSource;
  /** The height of the track if this is a video track. */
  height: number;
  /** The width of the track if this is a video track. */
  width: number;
  /** The kind of track: [[TrackKind.Video]] or [[TrackKind.Audio]]. */
  kind: TrackKind;
  /** Every HTMLMediaElement this track is attached to. */
  attachedElements: HTMLMediaElement[] = [];
  /** @internal */
  metadata: Record<string, unknown>;

  /** @internal */
  constructor(params: TrackParams, track?: MediaStreamTrack) {
    super();
    this.tid = params.tid;
    this.kind = params.kind;
    this.name = params.name;
    this.muted = params.muted;
    this.source = params.source;
    this.width = params.width;
    this.height = params.height;
    this.metadata = params.metadata;
    this.track = track;
  }

  /** True if the track is muted. */
  isMuted(): boolean {
    return this.muted;
  }

  /** The source of this track. */
  getSource(): TrackSource {
    return this.source;
  }

  /** What kind of track this is. */
  getKind(): TrackKind {
    return this.kind;
  }

  /** True if the Track has a MediaStreamTrack. */
  hasMedia(): boolean {
    return !!this.track;
  }

  /**
   * Attach this track to an existing HTMLMediaElement.
   *
   * The element keeps showing this track when its media changes (a remote track subscribed
   * again, a local track updated), and may be attached before any media arrived. Other tracks of
   * the other kind on the same element are kept (audio and video of one participant can share
   * an element).
   *
   * @returns The existing HTMLMediaElement with the track attached
   */
  attach(element: HTMLMediaElement): HTMLMediaElement;
  /**
   * Attach this track to a new `<video>` or `<audio>` element (autoplay, inline).
   *
   * @returns A new HTMLMediaElement with the track attached.
   */
  attach(): HTMLMediaElement;
  attach(element?: HTMLMediaElement): HTMLMediaElement {
    let el = element;
    if (!el) {
      el = document.createElement(this.kind === TrackKind.Video ? 'video' : 'audio');
      el.autoplay = true;
      el.setAttribute('playsinline', '');
    }
    if (!this.attachedElements.includes(el)) this.attachedElements.push(el);
    if (this.track) this.putMedia(el, this.track);
    return el;
  }

  /**
   * Detach this track from an existing HTMLMediaElement.
   *
   * @returns The existing HTMLMediaElement with the track detached
   */
  detach(element: HTMLMediaElement): HTMLMediaElement[];
  /**
   * Detach this track from all attached elements.
   *
   * @returns all elements with the track detached
   */
  detach(): HTMLMediaElement[];
  detach(element?: HTMLMediaElement): HTMLMediaElement[] {
    const elements = element ? [element] : this.attachedElements;
    for (const el of elements) this.detachFromElement(el);
    this.attachedElements = element ? this.attachedElements.filter((e) => e !== element) : [];
    return elements;
  }

  /**
   * Swaps the media (or removes it with `undefined`), keeping every attached element in step.
   *
   * @internal
   */
  setMedia(track: MediaStreamTrack | undefined): void {
    const previous = this.track;
    if (previous === track) return;
    this.track = track;
    for (const el of this.attachedElements) {
      if (track) this.putMedia(el, track, previous);
      else if (previous) this.removeMedia(el, previous);
    }
  }

  /** Puts `track` on the element's stream in place of tracks of the same kind. */
  private putMedia(el: HTMLMediaElement, track: MediaStreamTrack, previous?: MediaStreamTrack): void {
    const current = el.srcObject instanceof MediaStream ? el.srcObject.getTracks() : [];
    if (current.includes(track)) return;
    const kept = current.filter((t) => t.kind !== track.kind && t !== previous);
    el.srcObject = new MediaStream([...kept, track]);
  }

  private removeMedia(el: HTMLMediaElement, track: MediaStreamTrack): void {
    if (!(el.srcObject instanceof MediaStream)) return;
    const current = el.srcObject.getTracks();
    if (!current.includes(track)) return;
    const kept = current.filter((t) => t !== track);
    el.srcObject = kept.length ? new MediaStream(kept) : null;
  }

  private detachFromElement(el: HTMLMediaElement): void {
    if (this.track) this.removeMedia(el, this.track);
  }
}
