// The publisher peer connection: one `sendonly` transceiver per published track. Changes are
// queued and negotiated one offer at a time: add/remove transceivers, createOffer,
// setLocalDescription, one `pending_track` per new transceiver, `offer`, then wait for the
// `answer` before the next offer. An ICE restart is one more queued change.

import { Logger } from '../logger';
import type { Runtime } from '../runtime';
import { candidateToWire, type ClientMessage, type WireEncoding, type WireSimulcast } from '../signaling/protocol';
import { TrackKind, TrackSource } from '../track/enums';
import type { LocalTrack } from '../track/LocalTrack';
import { RemoteCandidates } from './candidates';

const log = new Logger('publisher');

/** How long an offer may wait for its answer before the connection is given up. */
export const ANSWER_TIMEOUT_MS = 15_000;
/** How long ICE may stay `disconnected` before an ICE restart. */
const DISCONNECTED_GRACE_MS = 2_000;

export interface PublisherOutput {
  send(message: ClientMessage): boolean;
  /** Negotiation cannot go on (no answer, a broken description): the space reconnects. */
  failed(reason: string): void;
}

export interface EncodingSettings {
  audio: RTCRtpEncodingParameters[];
  camera: RTCRtpEncodingParameters[];
  screenshare: RTCRtpEncodingParameters[];
}

/** The server's simulcast layers → encodings (as `@mux/spaces-web` maps them). */
export function encodingSettings(simulcast: WireSimulcast, { disableABR, goodVideo }: { disableABR: boolean; goodVideo: boolean }): EncodingSettings {
  const map = (e: WireEncoding): RTCRtpEncodingParameters => {
    const out: RTCRtpEncodingParameters = { rid: e.rid };
    if ((e.max_bitrate ?? 0) > 0) out.maxBitrate = e.max_bitrate;
    if ((e.scale_resolution_down_by ?? 0) > 0) out.scaleResolutionDownBy = e.scale_resolution_down_by;
    if ((e.max_framerate ?? 0) > 0) out.maxFramerate = e.max_framerate;
    return out;
  };
  const layers = (list: WireEncoding[] | undefined, fallback: number): RTCRtpEncodingParameters[] =>
    !disableABR && list && list.length > 0 ? list.map(map) : [{ maxBitrate: fallback }];
  return {
    audio: [{ maxBitrate: 64_000 }],
    camera: layers(simulcast.camera_encodings, 700_000),
    screenshare: goodVideo ? [{ maxBitrate: 5_000_000 }] : layers(simulcast.screenshare_encodings, 2_000_000),
  };
}

type Change = { kind: 'add'; track: LocalTrack } | { kind: 'remove'; tid: string };

export class Publisher {
  readonly pc: RTCPeerConnection;
  /** The transceiver of each published tid. */
  private transceivers = new Map<string, RTCRtpTransceiver>();
  private changes: Change[] = [];
  private restartWanted = false;
  private running = false;
  private closed = false;
  private answer?: { resolve(sdp: string): void; timer: unknown };
  private candidates: RemoteCandidates;
  private disconnectedTimer: unknown;

  constructor(
    private readonly runtime: Runtime,
    /** `sub_sfus[0].sfu_id`, sent with the publisher's candidates. */
    readonly sfuId: string,
    iceServers: RTCIceServer[],
    private readonly encodings: EncodingSettings,
    private readonly out: PublisherOutput,
  ) {
    this.pc = runtime.createPeerConnection({ iceServers });
    this.candidates = new RemoteCandidates(this.pc);
    this.pc.onicecandidate = (ev) => {
      if (!ev.candidate || this.closed) return;
      this.out.send({ candidate: { candidate: candidateToWire(ev.candidate.toJSON()), type: 2, sfu_id: this.sfuId } });
    };
    this.pc.oniceconnectionstatechange = () => this.iceStateChanged();
  }

  /** Queues new tracks (their tid must not be published yet). */
  add(tracks: LocalTrack[]): void {
    for (const track of tracks) this.changes.push({ kind: 'add', track });
    void this.pump();
  }

  /** Queues the removal of published tracks. */
  remove(tids: string[]): void {
    for (const tid of tids) this.changes.push({ kind: 'remove', tid });
    void this.pump();
  }

  /** Sends the media of `track` in place of the published track with the same tid (no renegotiation). */
  replace(track: LocalTrack): void {
    const transceiver = this.transceivers.get(track.tid);
    if (transceiver) {
      transceiver.sender.replaceTrack(track.track).catch((e) => log.error('replaceTrack failed', e));
      return;
    }
    // Not negotiated yet: swap it in the queued change.
    for (const change of this.changes) if (change.kind === 'add' && change.track.tid === track.tid) change.track = track;
  }

  /** Queues an offer with new ICE credentials. */
  restartIce(): void {
    this.restartWanted = true;
    void this.pump();
  }

  /** The server's answer to the offer in flight. */
  handleAnswer(sdp: string): void {
    const waiting = this.answer;
    if (!waiting) {
      log.warn('ignored an answer while no offer was in flight');
      return;
    }
    this.answer = undefined;
    this.runtime.clearTimeout(waiting.timer);
    waiting.resolve(sdp);
  }

  addRemoteCandidate(candidate: RTCIceCandidateInit): void {
    this.candidates.add(candidate);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.runtime.clearTimeout(this.disconnectedTimer);
    if (this.answer) this.runtime.clearTimeout(this.answer.timer);
    this.answer = undefined;
    this.pc.onicecandidate = null;
    this.pc.oniceconnectionstatechange = null;
    this.pc.close();
  }

  private iceStateChanged(): void {
    const state = this.pc.iceConnectionState;
    log.debug(`ICE ${state}`);
    this.runtime.clearTimeout(this.disconnectedTimer);
    if (state === 'failed') {
      this.restartIce();
    } else if (state === 'disconnected') {
      this.disconnectedTimer = this.runtime.setTimeout(() => {
        if (!this.closed && this.pc.iceConnectionState === 'disconnected') this.restartIce();
      }, DISCONNECTED_GRACE_MS);
    }
  }

  private async pump(): Promise<void> {
    if (this.running || this.closed) return;
    this.running = true;
    try {
      while (!this.closed && (this.changes.length > 0 || this.restartWanted)) {
        const changes = this.changes;
        this.changes = [];
        const restart = this.restartWanted;
        this.restartWanted = false;
        const added = this.apply(changes);
        if (added === null && !restart) continue;
        await this.negotiate(restart, added ?? []);
      }
    } catch (e) {
      if (!this.closed) {
        log.error('publishing failed', e);
        this.out.failed(`publishing failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    } finally {
      this.running = false;
    }
  }

  /** Applies queued changes to the transceivers; null if nothing changed. */
  private apply(changes: Change[]): { track: LocalTrack; transceiver: RTCRtpTransceiver }[] | null {
    let changed = false;
    const added: { track: LocalTrack; transceiver: RTCRtpTransceiver }[] = [];
    // A track added and removed within one batch is never negotiated at all.
    const removedLater = new Set<string>();
    const skip = new Set<Change>();
    for (let i = changes.length - 1; i >= 0; i--) {
      const change = changes[i];
      if (change.kind === 'remove') removedLater.add(change.tid);
      else if (removedLater.has(change.track.tid) && !this.transceivers.has(change.track.tid)) {
        skip.add(change);
        removedLater.delete(change.track.tid);
      }
    }
    for (const change of changes) {
      if (skip.has(change)) continue;
      if (change.kind === 'add') {
        if (this.transceivers.has(change.track.tid)) continue;
        const transceiver = this.pc.addTransceiver(change.track.track, {
          direction: 'sendonly',
          sendEncodings: this.encodingsFor(change.track),
        });
        this.transceivers.set(change.track.tid, transceiver);
        added.push({ track: change.track, transceiver });
        changed = true;
      } else {
        const transceiver = this.transceivers.get(change.tid);
        if (!transceiver) continue;
        this.transceivers.delete(change.tid);
        this.pc.removeTrack(transceiver.sender);
        changed = true;
      }
    }
    return changed ? added : null;
  }

  private encodingsFor(track: LocalTrack): RTCRtpEncodingParameters[] {
    if (track.kind === TrackKind.Audio) return this.encodings.audio.map((e) => ({ ...e }));
    const list = track.source === TrackSource.Screenshare ? this.encodings.screenshare : this.encodings.camera;
    return list.map((e) => ({ ...e }));
  }

  private async negotiate(iceRestart: boolean, added: { track: LocalTrack; transceiver: RTCRtpTransceiver }[]): Promise<void> {
    const offer = await this.pc.createOffer({ iceRestart });
    if (this.closed) return;
    await this.pc.setLocalDescription(offer);
    if (this.closed) return;
    for (const { track, transceiver } of added) {
      if (transceiver.mid === null) {
        log.error(`no mid for the transceiver of ${track.tid}`);
        continue;
      }
      const settings = track.track.getSettings ? track.track.getSettings() : {};
      this.out.send({
        pending_track: {
          tid: track.tid,
          type: track.kind,
          name: track.name,
          muted: track.muted,
          source: track.source,
          height: settings.height || track.height || 0,
          width: settings.width || track.width || 0,
          mid: transceiver.mid,
        },
      });
    }
    const answer = new Promise<string>((resolve, reject) => {
      const timer = this.runtime.setTimeout(() => {
        if (this.answer?.timer !== timer) return;
        this.answer = undefined;
        reject(new Error(`no answer within ${ANSWER_TIMEOUT_MS / 1000} s`));
      }, ANSWER_TIMEOUT_MS);
      this.answer = { resolve, timer };
    });
    const sdp = this.pc.localDescription?.sdp ?? offer.sdp ?? '';
    if (!this.out.send({ offer: sdp })) {
      if (this.answer) this.runtime.clearTimeout(this.answer.timer);
      this.answer = undefined;
      if (this.closed) return;
      throw new Error('the signaling connection is down');
    }
    const answerSdp = await answer;
    if (this.closed) return;
    await this.pc.setRemoteDescription({ type: 'answer', sdp: answerSdp });
    this.candidates.flush();
  }
}
