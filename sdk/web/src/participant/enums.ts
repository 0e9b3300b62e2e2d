/**
 * ParticipantRole comes from the `role` claim of the join token. Publishers can publish and
 * subscribe; subscribers can only subscribe.
 */
export enum ParticipantRole {
  /** Publishers can both publish media and subscribe to media */
  Publisher = 1,
  /** Subscribers can only subscribe to media */
  Subscriber = 2,
}

/** The signaling state of a {@link RemoteParticipant}. */
export enum ParticipantStatus {
  /** Connected and ready to send or receive media */
  Connected = 1,
  /** Disconnected: left, or failed to connect */
  Disconnected = 2,
  /** Reconnected after a disconnection */
  Reconnected = 3,
}
