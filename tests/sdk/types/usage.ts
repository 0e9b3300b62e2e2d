// Compiles against the published declarations of Oriel's SDK (sdk/web/dist/types) the way
// applications use @mux/spaces-web 1.2.0; `@ts-expect-error` lines prove that listener
// arguments are typed. Checked by tests/sdk/unit/surface.test.mjs (tsc --noEmit).

import {
  AcrScore,
  ActiveSpeaker,
  CreateLocalMediaOptions,
  CustomEvent,
  DisconnectedError,
  JWTError,
  LocalParticipant,
  LocalTrack,
  MuxError,
  ParticipantEvent,
  ParticipantRole,
  RemoteParticipant,
  RemoteTrack,
  Space,
  SpaceEvent,
  SpaceOptionsParams,
  SubscriptionMode,
  Track,
  TrackEvent,
  TrackKind,
  TrackSource,
  getDisplayMedia,
  getLocalTracksFromMediaStream,
  getUserMedia,
} from '@oriel/spaces-web';

export async function meeting(jwt: string, grid: HTMLElement): Promise<void> {
  const options: SpaceOptionsParams = { subscriptionMode: SubscriptionMode.Automatic, automaticParticipantLimit: 12, displayName: 'Ann', backendUrl: 'wss://oriel.example/pluto' };
  const space = new Space(jwt, options);

  space.on(SpaceEvent.ParticipantJoined, (p: RemoteParticipant) => {
    const name: string = p.displayName;
    const subscribed: boolean = p.isSubscribed();
    void name;
    void subscribed;
  });
  space.on(SpaceEvent.ParticipantTrackSubscribed, (p, track) => {
    const el: HTMLMediaElement = track.attach();
    grid.append(el);
    const kind: TrackKind = track.kind;
    void kind;
    void p.connectionId;
  });
  space.on('ParticipantTrackUnsubscribed', (_p, track: RemoteTrack) => track.detach());
  space.on(SpaceEvent.ParticipantTrackPublished, (p: RemoteParticipant | LocalParticipant, t: RemoteTrack | LocalTrack) => void [p, t]);
  space.on(SpaceEvent.ActiveSpeakersChanged, (speakers: ActiveSpeaker[]) => speakers.forEach((s) => void s.track.tid));
  space.on(SpaceEvent.ParticipantCustomEventPublished, (_p, event: CustomEvent) => void event.sequenceNumber);
  space.on(SpaceEvent.BroadcastStateChanged, (on: boolean) => void on);
  space.on(SpaceEvent.LocalParticipantReconnectFailed, (error: DisconnectedError) => void error.message);
  space.once(SpaceEvent.LocalParticipantReconnected, (lp: LocalParticipant) => void lp.connectionId);
  space.off(SpaceEvent.LocalParticipantReconnecting, () => {});

  // @ts-expect-error ParticipantJoined gives a participant, not a track
  space.on(SpaceEvent.ParticipantJoined, (t: RemoteTrack) => void t);
  // @ts-expect-error no such event
  space.on('ParticipantJoinned', () => {});

  const local: LocalParticipant = await space.join();
  const media: CreateLocalMediaOptions = { audio: true, video: { name: 'Camera', width: 640 } };
  const tracks: LocalTrack[] = await getUserMedia(media);
  await local.publishTracks(tracks);
  local.on(ParticipantEvent.TrackMuted, (t: LocalTrack) => void t.tid);
  tracks[0].on(TrackEvent.Muted, () => {});
  tracks[0].mute();
  tracks[0].unMute();
  const screen = await getDisplayMedia({ video: true });
  await local.publishTracks(screen);
  local.unpublishTracks(screen, { stop: true });
  local.updateTracks(await getUserMedia({ video: true, audio: false }));
  const other = await getLocalTracksFromMediaStream('canvas', new MediaStream());
  void other;
  const ev: CustomEvent = await local.publishCustomEvent('hello');
  void ev.payload;
  const same: LocalParticipant = await local.setDisplayName('Ann B.');
  void same;
  void (local.role === ParticipantRole.Publisher);
  const t: Track = tracks[0];
  void (t.source === TrackSource.Camera);
  try {
    await space.submitAcrScore(AcrScore.Good);
  } catch (e) {
    if (e instanceof MuxError) void e.code;
    if (e instanceof JWTError) void e.name;
  }
  space.leave();
}
