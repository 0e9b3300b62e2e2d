// One subscriber peer connection (one `sfu_id`): the server offers, the SDK answers. Offers
// are applied strictly one after the other (a second `sub_offer` never races the first).
//
// Media is mapped by MediaStream id, which the server sets to the publisher's tid. A track's
// media ends when its m-section turns inactive (or is recycled for another tid): reported once,
// with the MediaStreamTrack that ended, so that a tid re-subscribed on another m-section in the
// same offer is not mistaken for gone.

import { Logger } from '../logger';
import type { Runtime } from '../runtime';
import { candidateToWire, type ClientMessage } from '../signaling/protocol';
import { RemoteCandidates } from './candidates';

const log = new Logger('subscriber');

export interface SubscriberOutput {
  send(message: ClientMessage): boolean;
  /** Media of `tid` arrived. */
  track(tid: string, track: MediaStreamTrack): void;
  /** Media of `tid` (that MediaStreamTrack) ended. */
  trackEnded(tid: string, track: MediaStreamTrack): void;
  /** An offer could not be applied: the space reconnects. */
  failed(reason: string): void;
}

interface Receiving {
  tid: string;
  track: MediaStreamTrack;
}

export class Subscriber {
  readonly pc: RTCPeerConnection;
  private chain: Promise<void> = Promise.resolve();
  /** What each m-section (by mid) currently carries. */
  private byMid = new Map<string, Receiving>();
  private candidates: RemoteCandidates;
  private closed = false;

  constructor(
    runtime: Runtime,
    readonly sfuId: string,
    iceServers: RTCIceServer[],
    private readonly out: SubscriberOutput,
  ) {
    this.pc = runtime.createPeerConnection({ iceServers });
    this.candidates = new RemoteCandidates(this.pc);
    this.pc.onicecandidate = (ev) => {
      if (!ev.candidate || this.closed) return;
      this.out.send({ candidate: { candidate: candidateToWire(ev.candidate.toJSON()), type: 1, sfu_id: this.sfuId } });
    };
    this.pc.ontrack = (ev) => this.onTrack(ev);
  }

  /** Queues a server offer; it is answered after the ones before it. */
  handleOffer(sdp: string): void {
    this.chain = this.chain
      .then(() => this.applyOffer(sdp))
      .catch((e) => {
        if (this.closed) return;
        log.error(`could not apply the offer of ${this.sfuId}`, e);
        this.out.failed(`subscriber offer failed: ${e instanceof Error ? e.message : String(e)}`);
      });
  }

  addRemoteCandidate(candidate: RTCIceCandidateInit): void {
    this.candidates.add(candidate);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pc.onicecandidate = null;
    this.pc.ontrack = null;
    this.pc.close();
  }

  private async applyOffer(sdp: string): Promise<void> {
    if (this.closed) return;
    await this.pc.setRemoteDescription({ type: 'offer', sdp });
    if (this.closed) return;
    this.candidates.flush();
    const answer = await this.pc.createAnswer();
    if (this.closed) return;
    await this.pc.setLocalDescription(answer);
    if (this.closed) return;
    this.out.send({ sub_answer: { sfu_id: this.sfuId, sdp: this.pc.localDescription?.sdp ?? answer.sdp ?? '' } });
    this.sweep();
  }

  private onTrack(ev: RTCTrackEvent): void {
    if (this.closed) return;
    const stream = ev.streams[0];
    if (!stream) {
      log.warn('ignored media without a stream id', ev.track.id);
      return;
    }
    const tid = stream.id;
    const mid = ev.transceiver?.mid ?? null;
    if (mid !== null) {
      const before = this.byMid.get(mid);
      if (before && (before.tid !== tid || before.track !== ev.track)) this.end(mid);
      this.byMid.set(mid, { tid, track: ev.track });
    }
    stream.addEventListener('removetrack', (e: MediaStreamTrackEvent) => {
      if (this.closed || e.track !== ev.track) return;
      for (const [m, r] of this.byMid) if (r.tid === tid && r.track === e.track) this.end(m);
    });
    this.out.track(tid, ev.track);
  }

  /** Ends the media of every m-section the last negotiation made inactive. */
  private sweep(): void {
    for (const transceiver of this.pc.getTransceivers()) {
      const mid = transceiver.mid;
      if (mid === null || !this.byMid.has(mid)) continue;
      const direction = transceiver.currentDirection;
      if (direction === 'inactive' || direction === 'sendonly' || direction === 'stopped' || direction === null) this.end(mid);
    }
  }

  private end(mid: string): void {
    const receiving = this.byMid.get(mid);
    if (!receiving) return;
    this.byMid.delete(mid);
    this.out.trackEnded(receiving.tid, receiving.track);
  }
}
