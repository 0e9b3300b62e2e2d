// Remote ICE candidates that arrive before the peer connection has a remote description wait
// here, per peer connection (never in one shared queue), and are added once it has one.

import { Logger } from '../logger';

const log = new Logger('ice');

export class RemoteCandidates {
  private queue: RTCIceCandidateInit[] = [];
  private ready = false;

  constructor(private readonly pc: RTCPeerConnection) {}

  /** Adds now, or once {@link flush} is called. */
  add(candidate: RTCIceCandidateInit): void {
    if (!this.ready) {
      this.queue.push(candidate);
      return;
    }
    this.pc.addIceCandidate(candidate).catch((e) => log.debug('could not add a remote candidate', candidate, e));
  }

  /** The remote description is set: adds what waited. */
  flush(): void {
    this.ready = true;
    const queue = this.queue;
    this.queue = [];
    for (const c of queue) this.add(c);
  }
}
