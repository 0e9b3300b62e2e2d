import { MuxError } from './muxError';

/** There is an issue with the join token (JWT): invalid, expired, or its participant is already connected. */
export class JWTError extends MuxError {}

/** An unexpected error, in the SDK or reported by the server. */
export class InternalError extends MuxError {}

/** An invalid {@link SpaceOptionsParams} property was passed to a Space. */
export class SpaceOptionsError extends MuxError {}

/** Connecting to the space failed for a reason other than the JWT. */
export class ConnectionError extends MuxError {}

/** The connection to the server broke and reconnecting failed, or the server ended it. */
export class DisconnectedError extends MuxError {}

/** The signaling connection closed while a request was pending. */
export class WebsocketError extends MuxError {}

/** Publishing a custom event failed. */
export class PublishCustomEventError extends MuxError {}

/** Publishing a {@link LocalTrack} failed. */
export class PublishTrackError extends MuxError {}

/** Unpublishing a {@link LocalTrack} failed. */
export class UnpublishTrackError extends MuxError {}

/** Updating a {@link LocalTrack} failed. */
export class UpdateTrackError extends MuxError {}

/** Subscribing to (or unsubscribing from) a {@link RemoteParticipant} failed. */
export class SubscriptionError extends MuxError {}

/** A request to the server got no answer in time. */
export class RequestTimeoutError extends MuxError {}

/** Submitting an ACR score failed. */
export class AcrError extends MuxError {}

/** Setting the display name failed. */
export class SetDisplayNameError extends MuxError {}

/** The server does not support this SDK's signaling protocol version. */
export class InvalidProtocolError extends MuxError {}
