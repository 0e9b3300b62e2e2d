// Shared setup of the unit tests: the built ES module of the SDK, fakes installed, a space
// joined against the fake server, and a recorder of every Space event.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { installFakes, jwt, joined, settle, FakePeerConnection, FakeTrack } from './fakes.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const SDK_PATH = path.resolve(here, '../../../sdk/web/dist/esm/index.mjs');
export const SDK = await import(SDK_PATH);

// The SDK logs what it skips or retries; keep the test report readable (ORIEL_SDK_LOGS=1 shows them).
if (process.env.ORIEL_SDK_LOGS !== '1') {
  for (const level of ['warn', 'error']) {
    const original = console[level].bind(console);
    console[level] = (...args) => {
      if (typeof args[0] === 'string' && args[0].startsWith('[oriel ')) return;
      original(...args);
    };
  }
}

/** Every SpaceEvent as [name, ...args summarised] (participants by id, tracks by tid). */
export function record(space) {
  const log = [];
  const sum = (v) => {
    if (v instanceof SDK.LocalParticipant || v instanceof SDK.RemoteParticipant) return v.id;
    if (v instanceof SDK.Track) return v.tid;
    if (Array.isArray(v)) return v.map((s) => `${s.participant.id}/${s.track.tid}`);
    if (v instanceof Error) return `${v.name}: ${v.message}`;
    return v;
  };
  for (const name of Object.values(SDK.SpaceEvent)) {
    space.on(name, (...args) => log.push([name, ...args.map(sum)]));
  }
  log.names = () => log.map((e) => e[0]);
  log.of = (name) => log.filter((e) => e[0] === name);
  log.since = (n) => log.slice(n);
  return log;
}

/**
 * A fresh fake world and a Space joined to it. `claims` go in the token, `options` to the
 * Space, `join` overrides fields of `joined`.
 */
export async function joinedSpace({ claims = { participant_id: 'me' }, options, join = {} } = {}) {
  const fakes = installFakes();
  const space = new SDK.Space(jwt(claims), options);
  const events = record(space);
  const joining = space.join();
  const conn = await fakes.server.nextConnection();
  conn.send(joined(join));
  const local = await joining;
  await settle();
  return { ...fakes, space, events, conn, local, pcs: FakePeerConnection.all };
}

/** LocalTracks from fake capture (source `other`, like any MediaStream). */
export async function localTracks(...kinds) {
  const tracks = kinds.map((k) => new FakeTrack(k));
  return SDK.getLocalTracksFromMediaStream('fake', { getTracks: () => tracks });
}

export { settle };
