// Oriel's Web SDK: the public API of `@mux/spaces-web` 1.2.0, for an Oriel server.
//
// As an ES module:   import { Space, getUserMedia } from '@oriel/spaces-web';
// As a script:       <script src="https://oriel.example.com/sdk/spaces.js"></script>
//                    → the global `OrielSpaces` with these same exports.

import { Space } from './space/Space';
import LocalParticipant from './participant/LocalParticipant';
import RemoteParticipant from './participant/RemoteParticipant';
import { TrackKind, TrackSource } from './track/enums';
import { Track } from './track/Track';
import { RemoteTrack } from './track/RemoteTrack';
import { LocalTrack } from './track/LocalTrack';

export * from './space/options';
export * from './track/options';
export * from './space/events';
export * from './track/events';
export * from './participant/events';
export * from './participant/options';
export * from './participant/enums';
export * from './errors/muxError';
export * from './space/types';
export * from './errors/externalErrors';
export { AcrScore } from './space/enums';
export { getUserMedia, getDisplayMedia, getLocalTracksFromMediaStream } from './media';
export { version } from './version';
export { Space, LocalParticipant, RemoteParticipant, TrackKind, Track, RemoteTrack, LocalTrack, TrackSource };
