import { TypedEventEmitter } from '../emitter';
import { SubscriptionError } from '../errors/externalErrors';
import { SubscriptionMode } from '../space/options';
import type { RemoteTrack } from '../track/RemoteTrack';
import type { RemoteBackend } from './backends';
import { ParticipantRole, ParticipantStatus } from './enums';
import type { RemoteParticipantEvents } from './events';

const MANUAL_ONLY =
  'Manual subscriptions are not supported while automatic subscriptions are enabled. See SpaceOptions for more details.';

/**
 * A RemoteParticipant is another participant of the space. Its events are also emitted on the
 * [[Space]]; listening here gives finer control.
 *
 * @noInheritDoc
 */
export default class RemoteParticipant extends TypedEventEmitter<RemoteParticipantEvents> {
  /** The participant id: the `participant_id` claim of its join token (else its connection id). */
  id: string;
  /** A unique id for this connection of the participant (new after each reconnection). */
  connectionId: string;
  /** All audio tracks of this participant, by tid. */
  audioTracks = new Map<string, RemoteTrack>();
  /** All video tracks of this participant, by tid. */
  videoTracks = new Map<string, RemoteTrack>();
  /** [[ParticipantRole.Publisher]] or [[ParticipantRole.Subscriber]]. */
  role: ParticipantRole;
  /** The status of this participant. */
  status: ParticipantStatus;
  /** The display name of the participant ("" when it has none). */
  displayName: string;
  /**
   * Whether media of this participant is wanted (manual mode) or received (automatic mode).
   *
   * @deprecated use {@link isSubscribed}
   */
  subscribed = false;
  private backend: RemoteBackend;

  /** @internal */
  constructor(backend: RemoteBackend, connectionId: string, role: number | undefined, id: string | undefined, status: number | undefined, displayName: string | undefined) {
    super();
    this.backend = backend;
    this.connectionId = connectionId;
    this.id = id || connectionId;
    this.role = role === ParticipantRole.Subscriber ? ParticipantRole.Subscriber : ParticipantRole.Publisher;
    this.status = status === ParticipantStatus.Disconnected || status === ParticipantStatus.Reconnected ? status : ParticipantStatus.Connected;
    this.displayName = displayName || '';
  }

  /** All video tracks of this participant. */
  getVideoTracks(): RemoteTrack[] {
    return [...this.videoTracks.values()];
  }

  /** All audio tracks of this participant. */
  getAudioTracks(): RemoteTrack[] {
    return [...this.audioTracks.values()];
  }

  /** All (audio, then video) tracks of this participant. */
  getTracks(): RemoteTrack[] {
    return [...this.getAudioTracks(), ...this.getVideoTracks()];
  }

  /** `true` if the RemoteParticipant is subscribed. */
  isSubscribed(): boolean {
    return this.subscribed;
  }

  /**
   * Subscribes to this participant's media ([[SubscriptionMode.Manual]] only). Resolves once
   * media of every current track arrived (one [[SpaceEvent.ParticipantTrackSubscribed]] each);
   * tracks it publishes later are subscribed too, until [[unsubscribe]].
   */
  async subscribe(): Promise<void> {
    if (this.backend.mode() !== SubscriptionMode.Manual) throw new SubscriptionError(MANUAL_ONLY);
    this.subscribed = true;
    await this.backend.subscribe(this);
  }

  /**
   * Unsubscribes from this participant's media ([[SubscriptionMode.Manual]] only). Resolves once
   * every track is unsubscribed (one [[SpaceEvent.ParticipantTrackUnsubscribed]] each).
   */
  async unsubscribe(): Promise<void> {
    if (this.backend.mode() !== SubscriptionMode.Manual) throw new SubscriptionError(MANUAL_ONLY);
    this.subscribed = false;
    await this.backend.unsubscribe(this);
  }
}
