// Broadcasts through the official @mux/mux-node 7.3.5 SDK, unchanged (Video.Spaces.Broadcasts),
// with Mux's rules: one per space, embedded in the space, deleted only while idle, started only
// while the space is active; stop completes the live stream; the space going idle stops it.
// Participants (raw signaling sockets here; the browsers' SDKs in tests/e2e) hear every change
// as `broadcast_state_update`, and a late joiner finds `broadcasting: true` in `joined`.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Mux from '@mux/mux-node';
import { installFailureLogs, startOriel, assertErrorEnvelope, joinToken, sleep } from '../lib/oriel.mjs';

installFailureLogs();

let oriel;
let tok;
let mux;
let key;

before(async () => {
  oriel = await startOriel({ name: 'broadcasts' });
  tok = await oriel.createAccessToken('broadcasts');
  mux = new Mux(tok.id, tok.secret, { baseUrl: oriel.baseUrl });
  key = await mux.Video.SigningKeys.create();
});

after(async () => {
  await oriel.stop();
  oriel.cleanup();
});

const api = (method, path, body) => oriel.api(method, path, { token: tok, body });

async function sdkError(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  assert.fail('expected the SDK call to fail');
}

/** The next frame of a signaling socket that has `field`, skipping others (speakers, ...). */
async function nextWith(conn, field, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = await conn.nextMessage(Math.max(1, deadline - Date.now()));
    if (m.json && field in m.json) return m.json[field];
  }
}

async function waitFor(check, what, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(50);
  }
  assert.fail(`timed out waiting for ${what}`);
}

test('a broadcast is created in Mux\'s shape, embedded in its space, and one per space', async () => {
  const stream = await mux.Video.LiveStreams.create({ playback_policy: 'public' });
  const space = await mux.Video.Spaces.create({});
  const broadcast = await mux.Video.Spaces.Broadcasts.create(space.id, {
    live_stream_id: stream.id, layout: 'active-speaker', resolution: '1280x720', background: 'https://example.com/bg.jpg', passthrough: 'show',
  });
  assert.match(broadcast.id, /^[A-Za-z0-9]{20,64}$/);
  assert.deepEqual({ ...broadcast, id: 'x' }, {
    id: 'x', passthrough: 'show', live_stream_id: stream.id, status: 'idle', layout: 'active-speaker', resolution: '1280x720', background: 'https://example.com/bg.jpg',
  });
  assert.deepEqual(await mux.Video.Spaces.Broadcasts.get(space.id, broadcast.id), broadcast);
  assert.deepEqual((await mux.Video.Spaces.get(space.id)).broadcasts, [broadcast]);
  assert.deepEqual((await mux.Video.Spaces.list({})).find((s) => s.id === space.id).broadcasts, [broadcast]);
  assert.equal((await sdkError(mux.Video.Spaces.Broadcasts.create(space.id, { live_stream_id: stream.id }))).type, 'invalid_parameters', 'one per space');

  // Defaults; and a space created with its broadcast in one request.
  const withOne = await mux.Video.Spaces.create({ broadcasts: [{ live_stream_id: stream.id }] });
  assert.equal(withOne.broadcasts.length, 1);
  assert.equal(withOne.broadcasts[0].layout, 'gallery');
  assert.equal(withOne.broadcasts[0].resolution, '1920x1080');
  assert.equal(withOne.broadcasts[0].status, 'idle');
  assert.equal(withOne.broadcasts[0].background, undefined);
  const plain = await mux.Video.Spaces.create({});
  assert.equal(plain.broadcasts, undefined, 'omitted when none');
});

test('bad requests answer in Mux\'s envelope and make nothing', async () => {
  const stream = dataOf(await api('POST', '/video/v1/live-streams', {}), 201);
  const space = dataOf(await api('POST', '/video/v1/spaces', {}), 201);
  for (const body of [
    {},
    { live_stream_id: 'nope' },
    { live_stream_id: stream.id, layout: 'grid' },
    { live_stream_id: stream.id, resolution: '640x480' },
    { live_stream_id: stream.id, background: 'file:///etc/passwd' },
    { live_stream_id: stream.id, passthrough: 'x'.repeat(256) },
  ]) {
    assertErrorEnvelope(await api('POST', `/video/v1/spaces/${space.id}/broadcasts`, body), 400, 'invalid_parameters');
  }
  assert.equal(dataOf(await api('GET', `/video/v1/spaces/${space.id}`)).broadcasts, undefined);
  const before = dataOf(await api('GET', '/video/v1/spaces?limit=100')).length;
  for (const body of [{ broadcasts: [{ live_stream_id: 'nope' }] }, { broadcasts: [{ live_stream_id: stream.id }, { live_stream_id: stream.id }] }, { broadcasts: {} }]) {
    assertErrorEnvelope(await api('POST', '/video/v1/spaces', body), 400, 'invalid_parameters');
  }
  assert.equal(dataOf(await api('GET', '/video/v1/spaces?limit=100')).length, before, 'no space made from bad input');
  assertErrorEnvelope(await api('POST', '/video/v1/spaces/nope/broadcasts', { live_stream_id: stream.id }), 404, 'not_found');
  for (const [method, path] of [
    ['GET', `/video/v1/spaces/${space.id}/broadcasts/nope`],
    ['DELETE', `/video/v1/spaces/${space.id}/broadcasts/nope`],
    ['POST', `/video/v1/spaces/${space.id}/broadcasts/nope/start`],
    ['POST', `/video/v1/spaces/${space.id}/broadcasts/nope/stop`],
  ]) assertErrorEnvelope(await api(method, path), 404, 'not_found');

  // Another environment sees none of it.
  const other = await oriel.createAccessToken('broadcasts-other');
  const b = dataOf(await api('POST', `/video/v1/spaces/${space.id}/broadcasts`, { live_stream_id: stream.id }), 201);
  assertErrorEnvelope(await oriel.api('GET', `/video/v1/spaces/${space.id}/broadcasts/${b.id}`, { token: other }), 404, 'not_found');
  assertErrorEnvelope(await oriel.api('POST', `/video/v1/spaces/${space.id}/broadcasts/${b.id}/start`, { token: other }), 404, 'not_found');
  const theirStream = dataOf(await oriel.api('POST', '/video/v1/live-streams', { token: other, body: {} }), 201);
  const space2 = dataOf(await api('POST', '/video/v1/spaces', {}), 201);
  assertErrorEnvelope(await api('POST', `/video/v1/spaces/${space2.id}/broadcasts`, { live_stream_id: theirStream.id }), 400, 'invalid_parameters');
});

test('start only while active, participants hear it, a late joiner is told, stop completes the live stream, delete only while idle', async () => {
  const stream = await mux.Video.LiveStreams.create({ playback_policy: 'public' });
  const space = await mux.Video.Spaces.create({});
  const broadcast = await mux.Video.Spaces.Broadcasts.create(space.id, { live_stream_id: stream.id });
  const start = () => mux.Video.Spaces.Broadcasts.start(space.id, broadcast.id);
  const stop = () => mux.Video.Spaces.Broadcasts.stop(space.id, broadcast.id);

  assertErrorEnvelope(await api('POST', `/video/v1/spaces/${space.id}/broadcasts/${broadcast.id}/start`), 412, 'failed_request');
  assert.equal((await mux.Video.Spaces.Broadcasts.get(space.id, broadcast.id)).status, 'idle');

  const first = await oriel.expectJoined(joinToken(space.id, key));
  await waitFor(async () => (await mux.Video.Spaces.get(space.id)).status === 'active', 'the space to go active');
  assert.deepEqual(await start(), {});
  assert.equal(await nextWith(first, 'broadcast_state_update'), 1, 'started');
  assert.equal((await mux.Video.Spaces.Broadcasts.get(space.id, broadcast.id)).status, 'active');
  assert.deepEqual(await start(), {}, 'starting again changes nothing');
  assertErrorEnvelope(await api('DELETE', `/video/v1/spaces/${space.id}/broadcasts/${broadcast.id}`), 412, 'failed_request');

  const late = oriel.openPluto(joinToken(space.id, key));
  const joined = await nextWith(late, 'joined');
  assert.equal(joined.broadcasting, true, 'a late joiner hears that the space is broadcasting');

  assert.deepEqual(await stop(), {});
  assert.equal(await nextWith(first, 'broadcast_state_update'), 2, 'ended');
  assert.equal(await nextWith(late, 'broadcast_state_update'), 2, 'ended, for the late joiner too');
  assert.equal((await mux.Video.Spaces.Broadcasts.get(space.id, broadcast.id)).status, 'idle');
  assert.equal((await mux.Video.LiveStreams.get(stream.id)).status, 'idle');
  assert.deepEqual(await stop(), {}, 'stopping again changes nothing');

  // A disabled live stream cannot be broadcast to.
  await mux.Video.LiveStreams.disable(stream.id);
  assertErrorEnvelope(await api('POST', `/video/v1/spaces/${space.id}/broadcasts/${broadcast.id}/start`), 412, 'failed_request');
  await mux.Video.LiveStreams.enable(stream.id);

  // The space going idle stops the broadcast.
  assert.deepEqual(await start(), {});
  assert.equal(await nextWith(first, 'broadcast_state_update'), 1);
  await first.close();
  late.ws.close(1000);
  await waitFor(async () => (await mux.Video.Spaces.get(space.id)).status === 'idle', 'the space to go idle');
  assert.equal((await mux.Video.Spaces.Broadcasts.get(space.id, broadcast.id)).status, 'idle', 'stopped with its space');

  await mux.Video.Spaces.Broadcasts.delete(space.id, broadcast.id);
  assert.equal((await sdkError(mux.Video.Spaces.Broadcasts.get(space.id, broadcast.id))).type, 'not_found');
  assert.equal((await mux.Video.Spaces.get(space.id)).broadcasts, undefined);
});

function dataOf(res, status = 200) {
  assert.equal(res.status, status, `${res.status}: ${res.text?.slice(0, 300)}`);
  return res.json.data;
}
