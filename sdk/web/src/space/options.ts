/**
 * Options for a {@link Space}.
 */
export interface SpaceOptionsParams {
  /**
   * Publish one video rendition instead of the server's simulcast layers: less CPU and
   * bandwidth, worse for spaces with many participants.
   */
  disableABRPublishing?: boolean;
  /**
   * `SubscriptionMode.Automatic` (default): the server sends the media of the
   * `automaticParticipantLimit` most relevant participants. `SubscriptionMode.Manual`: no media
   * until `RemoteParticipant.subscribe()`.
   */
  subscriptionMode?: SubscriptionMode;
  /**
   * How many participants the server sends media of in automatic mode: an integer 1–20,
   * default 16.
   */
  automaticParticipantLimit?: number;
  /**
   * The joining participant's display name, up to 64 characters.
   */
  displayName?: string;
  /**
   * The Oriel signaling base URL, e.g. `wss://oriel.example.com/pluto` (the SDK dials
   * `<backendUrl>/v1?token=...`). `http(s)://` is accepted and turned into `ws(s)://`.
   * Defaults to `window.MUX_SPACES_BACKEND_URL`, then to the server the SDK script was loaded
   * from (`/sdk/spaces.js`).
   */
  backendUrl?: string;
}

/**
 * SubscriptionMode determines how the SDK subscribes to participants.
 */
export enum SubscriptionMode {
  /**
   * The server picks whose media to send (up to `automaticParticipantLimit` participants),
   * preferring screen sharers, recent speakers and unmuted participants.
   */
  Automatic = 'AUTOMATIC',
  /**
   * No media until [[RemoteParticipant.subscribe]] is called for a participant.
   */
  Manual = 'MANUAL',
}
