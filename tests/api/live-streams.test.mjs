// Live streams through the official @mux/mux-node 7.3.5 SDK, unchanged (Video.LiveStreams),
// and the same paths by hand for the error envelope: shapes, playback ids, simulcast targets,
// complete / disable / enable / reset-stream-key, paging, and isolation between environments.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Mux from '@mux/mux-node';
import { installFailureLogs, startOriel, assertErrorEnvelope, dataOf, describe } from '../lib/oriel.mjs';

installFailureLogs();

let oriel;
let tokA;
let tokB;
let muxA;
let muxB;

before(async () => {
  oriel = await startOriel({ name: 'live-streams' });
  tokA = await oriel.createAccessToken('live-a');
  tokB = await oriel.createAccessToken('live-b');
  muxA = new Mux(tokA.id, tokA.secret, { baseUrl: oriel.baseUrl });
  muxB = new Mux(tokB.id, tokB.secret, { baseUrl: oriel.baseUrl });
});

after(async () => {
  await oriel.stop();
  oriel.cleanup();
});

const ID = /^[A-Za-z0-9]{20,64}$/;

/** The SDK's rejection for an API error: the envelope's `error` object. */
async function sdkError(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  assert.fail('expected the SDK call to fail');
}

test('create answers with Mux\'s live stream: stream key, idle, one playback id per policy, targets, settings echoed', async () => {
  const stream = await muxA.Video.LiveStreams.create({
    playback_policy: ['public', 'signed'],
    new_asset_settings: { playback_policy: ['public'] },
    passthrough: 'my show',
    latency_mode: 'low',
    reconnect_window: 30,
    simulcast_targets: [{ url: 'rtmp://127.0.0.1:1935/live', stream_key: 'abc', passthrough: 'local' }],
  });
  assert.match(stream.id, ID);
  assert.match(stream.stream_key, ID);
  assert.match(stream.created_at, /^\d{10}$/);
  assert.equal(stream.status, 'idle');
  assert.equal(stream.passthrough, 'my show');
  assert.equal(stream.latency_mode, 'low');
  assert.equal(stream.reduced_latency, false);
  assert.equal(stream.reconnect_window, 30);
  assert.equal(stream.max_continuous_duration, 43200);
  assert.deepEqual(stream.new_asset_settings, { playback_policy: ['public'] });
  assert.deepEqual(stream.playback_ids.map((p) => p.policy), ['public', 'signed']);
  for (const p of stream.playback_ids) assert.match(p.id, ID);
  assert.equal(stream.simulcast_targets.length, 1);
  const [target] = stream.simulcast_targets;
  assert.match(target.id, ID);
  assert.deepEqual({ ...target, id: undefined }, { id: undefined, url: 'rtmp://127.0.0.1:1935/live', stream_key: 'abc', passthrough: 'local', status: 'idle' });

  assert.deepEqual(await muxA.Video.LiveStreams.get(stream.id), stream);
  // A single policy as a string works too; nothing given means no playback id and Mux's defaults.
  const plain = await muxA.Video.LiveStreams.create({ playback_policy: 'public' });
  assert.deepEqual(plain.playback_ids.map((p) => p.policy), ['public']);
  const bare = await muxA.Video.LiveStreams.create({});
  assert.deepEqual(bare.playback_ids, []);
  assert.equal(bare.latency_mode, 'standard');
  assert.equal(bare.reconnect_window, 60);
  assert.equal(bare.simulcast_targets, undefined);
  assert.equal((await muxA.Video.LiveStreams.create({ reduced_latency: true })).latency_mode, 'reduced');
});

test('list is paged newest first and filters by status; other environments see none of it', async () => {
  const made = [];
  for (let i = 0; i < 3; i++) made.push(await muxA.Video.LiveStreams.create({ passthrough: `page ${i}` }));
  const first = await muxA.Video.LiveStreams.list({ limit: 2, page: 1 });
  assert.deepEqual(first.map((s) => s.id), [made[2].id, made[1].id]);
  const second = await muxA.Video.LiveStreams.list({ limit: 2, page: 2 });
  assert.equal(second[0].id, made[0].id);
  await muxA.Video.LiveStreams.disable(made[1].id);
  const disabled = await muxA.Video.LiveStreams.list({ status: 'disabled' });
  assert.deepEqual(disabled.map((s) => s.id), [made[1].id]);

  assert.deepEqual(await muxB.Video.LiveStreams.list(), []);
  const foreign = await sdkError(muxB.Video.LiveStreams.get(made[0].id));
  assert.equal(foreign.type, 'not_found');
  assert.equal((await sdkError(muxB.Video.LiveStreams.del(made[0].id))).type, 'not_found');
  assert.equal((await sdkError(muxB.Video.LiveStreams.createPlaybackId(made[0].id, { policy: 'public' }))).type, 'not_found');
  assert.equal((await muxA.Video.LiveStreams.get(made[0].id)).id, made[0].id, 'still there for its owner');
});

test('disable and enable, complete, reset-stream-key, update', async () => {
  const stream = await muxA.Video.LiveStreams.create({ playback_policy: 'public' });
  assert.deepEqual(await muxA.Video.LiveStreams.disable(stream.id), {});
  assert.equal((await muxA.Video.LiveStreams.get(stream.id)).status, 'disabled');
  assert.deepEqual(await muxA.Video.LiveStreams.enable(stream.id), {});
  assert.equal((await muxA.Video.LiveStreams.get(stream.id)).status, 'idle');
  assert.deepEqual(await muxA.Video.LiveStreams.signalComplete(stream.id), {});

  const reset = await muxA.Video.LiveStreams.resetStreamKey(stream.id);
  assert.equal(reset.id, stream.id);
  assert.notEqual(reset.stream_key, stream.stream_key);
  assert.match(reset.stream_key, ID);
  assert.equal((await muxA.Video.LiveStreams.get(stream.id)).stream_key, reset.stream_key);

  const updated = await muxA.Video.LiveStreams.update(stream.id, { passthrough: 'renamed', latency_mode: 'reduced', reconnect_window: 10 });
  assert.equal(updated.passthrough, 'renamed');
  assert.equal(updated.latency_mode, 'reduced');
  assert.equal(updated.reconnect_window, 10);
  assert.deepEqual(await muxA.Video.LiveStreams.get(stream.id), updated);
});

test('playback ids and simulcast targets: create, get, delete, each answered in Mux\'s shapes', async () => {
  const stream = await muxA.Video.LiveStreams.create({});
  const pid = await muxA.Video.LiveStreams.createPlaybackId(stream.id, { policy: 'signed' });
  assert.match(pid.id, ID);
  assert.equal(pid.policy, 'signed');
  assert.deepEqual(await muxA.Video.LiveStreams.playbackId(stream.id, pid.id), pid);
  assert.deepEqual((await muxA.Video.LiveStreams.get(stream.id)).playback_ids, [pid]);
  await muxA.Video.LiveStreams.deletePlaybackId(stream.id, pid.id);
  assert.deepEqual((await muxA.Video.LiveStreams.get(stream.id)).playback_ids, []);
  assert.equal((await sdkError(muxA.Video.LiveStreams.playbackId(stream.id, pid.id))).type, 'not_found');

  const target = await muxA.Video.LiveStreams.createSimulcastTarget(stream.id, { url: 'rtmps://live.example.com/app', stream_key: 'k1' });
  assert.equal(target.status, 'idle');
  assert.equal(target.url, 'rtmps://live.example.com/app');
  assert.deepEqual(await muxA.Video.LiveStreams.getSimulcastTarget(stream.id, target.id), target);
  await muxA.Video.LiveStreams.deleteSimulcastTarget(stream.id, target.id);
  assert.equal((await sdkError(muxA.Video.LiveStreams.getSimulcastTarget(stream.id, target.id))).type, 'not_found');

  await muxA.Video.LiveStreams.del(stream.id);
  assert.equal((await sdkError(muxA.Video.LiveStreams.get(stream.id))).type, 'not_found');
});

test('bad input gets 400 invalid_parameters in Mux\'s envelope; unknown ids 404; nothing is half-made', async () => {
  const post = (path, body) => oriel.api('POST', path, { token: tokA, body });
  const bad = [
    { playback_policy: 'private' },
    { playback_policy: ['public', 7] },
    { latency_mode: 'instant' },
    { reconnect_window: 5000 },
    { reconnect_window: 'soon' },
    { max_continuous_duration: 10 },
    { passthrough: 'x'.repeat(256) },
    { test: 'yes' },
    { new_asset_settings: 'public' },
    { simulcast_targets: {} },
    { simulcast_targets: [{ url: 'http://example.com/live' }] },
    { simulcast_targets: [{ stream_key: 'k' }] },
    { simulcast_targets: Array.from({ length: 7 }, () => ({ url: 'rtmp://127.0.0.1/live' })) },
  ];
  const before = dataOf(await oriel.api('GET', '/video/v1/live-streams?limit=100', { token: tokA })).length;
  for (const body of bad) assertErrorEnvelope(await post('/video/v1/live-streams', body), 400, 'invalid_parameters');
  assert.equal(dataOf(await oriel.api('GET', '/video/v1/live-streams?limit=100', { token: tokA })).length, before, 'no stream made from bad input');
  assertErrorEnvelope(await oriel.api('GET', '/video/v1/live-streams?status=paused', { token: tokA }), 400, 'invalid_parameters');

  const stream = dataOf(await post('/video/v1/live-streams', {}), 201);
  assertErrorEnvelope(await post(`/video/v1/live-streams/${stream.id}/playback-ids`, {}), 400, 'invalid_parameters');
  assertErrorEnvelope(await post(`/video/v1/live-streams/${stream.id}/simulcast-targets`, { url: 'srt://x' }), 400, 'invalid_parameters');
  for (let i = 0; i < 6; i++) dataOf(await post(`/video/v1/live-streams/${stream.id}/simulcast-targets`, { url: `rtmp://127.0.0.1/live/${i}` }), 201);
  assertErrorEnvelope(await post(`/video/v1/live-streams/${stream.id}/simulcast-targets`, { url: 'rtmp://127.0.0.1/live/7' }), 400, 'invalid_parameters');

  for (const [method, path] of [
    ['GET', '/video/v1/live-streams/nope'],
    ['PATCH', '/video/v1/live-streams/nope'],
    ['DELETE', '/video/v1/live-streams/nope'],
    ['PUT', '/video/v1/live-streams/nope/complete'],
    ['PUT', '/video/v1/live-streams/nope/disable'],
    ['PUT', '/video/v1/live-streams/nope/enable'],
    ['POST', '/video/v1/live-streams/nope/reset-stream-key'],
    ['DELETE', `/video/v1/live-streams/${stream.id}/playback-ids/nope`],
    ['DELETE', `/video/v1/live-streams/${stream.id}/simulcast-targets/nope`],
  ]) {
    const res = await oriel.api(method, path, { token: tokA, body: method === 'GET' || method === 'DELETE' ? undefined : {} });
    assertErrorEnvelope(res, 404, 'not_found');
  }
  assertErrorEnvelope(await oriel.api('GET', '/video/v1/live-streams'), 401, 'unauthorized');
  const res = await oriel.api('PUT', `/video/v1/live-streams/${stream.id}`, { token: tokA, body: {} });
  assert.equal(res.status, 405, describe(res));
});

test('a signed playback id plays only with a token from its environment\'s signing key, made by Mux.JWT.signPlaybackId', async () => {
  const stream = await muxA.Video.LiveStreams.create({ playback_policy: ['public', 'signed'] });
  const publicId = stream.playback_ids.find((p) => p.policy === 'public').id;
  const signedId = stream.playback_ids.find((p) => p.policy === 'signed').id;
  const keyA = await muxA.Video.SigningKeys.create();
  const keyB = await muxB.Video.SigningKeys.create();
  const hls = (id, token) => oriel.api('GET', `/hls/${id}.m3u8${token === undefined ? '' : `?token=${token}`}`);
  const sign = (id, key, options = {}) =>
    Mux.JWT.signPlaybackId(id, { keyId: key.id, keySecret: key.private_key, ...options });

  // No recording exists yet: an accepted request gets past the check to a 404 for the recording.
  const accepted = (res) => {
    assertErrorEnvelope(res, 404, 'not_found');
    assert.match(res.json.error.messages.join(' '), /Recording/, describe(res));
  };
  accepted(await hls(publicId));
  accepted(await hls(signedId, sign(signedId, keyA)));

  const refused = (res, pattern) => {
    assertErrorEnvelope(res, 403, 'forbidden');
    assert.match(res.json.error.messages.join(' '), pattern, describe(res));
  };
  refused(await hls(signedId), /signed/);
  refused(await hls(signedId, 'not-a-jwt'), /playback token/);
  // Another playback id's token, another environment's key, an expired token, a thumbnail token.
  refused(await hls(signedId, sign(publicId, keyA)), /another playback id/);
  refused(await hls(signedId, sign(signedId, keyB)), /unknown signing key/);
  refused(await hls(signedId, sign(signedId, keyA, { expiration: '-1h' })), /expired/);
  refused(await hls(signedId, sign(signedId, keyA, { type: 'thumbnail' })), /audience/);
  // A segment of a signed id is refused without its token too.
  refused(await oriel.api('GET', `/hls/${signedId}/segment00000.ts`), /signed/);
  await muxA.Video.LiveStreams.del(stream.id);
});
