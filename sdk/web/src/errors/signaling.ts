// Errors the server reports in `error` frames, and how they become the public error classes.

import {
  ConnectionError,
  InternalError,
  InvalidProtocolError,
  JWTError,
  PublishCustomEventError,
  SetDisplayNameError,
  SubscriptionError,
} from './externalErrors';
import type { MuxError } from './muxError';

/** Connection-level error types (before `joined` they refuse the join). */
export enum InternalSignalingErrorType {
  Unknown = 0,
  Disconnected = 1,
  HitTimeLimit = 2,
  DuplicateParticipantRejected = 3,
  PeerConnectionClosed = 4,
  InvalidPendingTrack = 5,
  InvalidJWT = 6,
  ParticipantLimitReached = 7,
}

/** Request-level error types, sent with `request_error.correlator`. */
export enum RequestSignalingErrorType {
  Unknown = 0,
  PendingTrackError = 1,
  TrackMuteError = 2,
  SubscribeTracksError = 3,
  UnsubscribeTracksError = 4,
  CustomEventError = 5,
  CustomEventRateLimited = 6,
  SetDisplayNameError = 7,
  SetDisplayNameRateLimited = 8,
  InvalidProtocolVersion = 9,
}

/** The `error` frame as the server sends it. */
export interface SignalingErrorFrame {
  type: number;
  message: string;
  visibility?: number;
  fatal?: boolean;
  retry?: boolean;
  request_error?: { correlator?: string };
}

/** The public error for an `error` frame that refused a join. */
export function joinError(frame: SignalingErrorFrame): MuxError {
  const message = frame.message || 'the server refused the connection';
  switch (frame.type) {
    case InternalSignalingErrorType.InvalidJWT:
    case InternalSignalingErrorType.DuplicateParticipantRejected:
      return new JWTError(message, frame.type);
    case InternalSignalingErrorType.ParticipantLimitReached:
      return new ConnectionError(message, frame.type);
    default:
      return new InternalError(message, frame.type);
  }
}

/** The public error for an `error` frame that refused one request. */
export function requestError(frame: SignalingErrorFrame): MuxError {
  const message = frame.message || 'the server refused the request';
  switch (frame.type) {
    case RequestSignalingErrorType.CustomEventError:
    case RequestSignalingErrorType.CustomEventRateLimited:
      return new PublishCustomEventError(message, frame.type);
    case RequestSignalingErrorType.SetDisplayNameError:
    case RequestSignalingErrorType.SetDisplayNameRateLimited:
      return new SetDisplayNameError(message, frame.type);
    case RequestSignalingErrorType.SubscribeTracksError:
    case RequestSignalingErrorType.UnsubscribeTracksError:
      return new SubscriptionError(message, frame.type);
    case RequestSignalingErrorType.InvalidProtocolVersion:
      return new InvalidProtocolError(message, frame.type);
    default:
      return new InternalError(message, frame.type);
  }
}

/** Whether a refused (re)connection can never succeed with the same token. */
export function isPermanentJoinRefusal(frame: SignalingErrorFrame): boolean {
  return frame.type === InternalSignalingErrorType.InvalidJWT;
}
