/** The broadcast state the server reports in `broadcast_state_update`. */
export enum BroadcastState {
  Unknown = 0,
  Started = 1,
  Ended = 2,
}

/**
 * An Absolute Category Rating (ACR), https://en.wikipedia.org/wiki/Absolute_Category_Rating
 */
export enum AcrScore {
  Bad = 1,
  Poor = 2,
  Fair = 3,
  Good = 4,
  Excellent = 5,
}
