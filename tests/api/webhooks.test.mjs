// Webhooks against real receivers on 127.0.0.1 that verify every delivery with
// @mux/mux-node 7.3.5's Webhooks.verifyHeader: the endpoint API, a space's events in order,
// live-stream and broadcast events, a receiver that is down for 20 s, a node killed with
// SIGKILL while deliveries are pending, an endpoint answering 500 forever beside a good one,
// the delivery log with a resend, and a node that refuses private addresses.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Mux from '@mux/mux-node';
import { installFailureLogs, startOriel, assertErrorEnvelope, dataOf, joinToken, sleep } from '../lib/oriel.mjs';
import { WebhookReceiver } from '../lib/webhook-receiver.mjs';

installFailureLogs();

let oriel;
let tok;
let key;
let mux;
const receivers = [];

async function receiver(name) {
  const r = await new WebhookReceiver(name).start();
  receivers.push(r);
  return r;
}

/** Registers `r` as an endpoint of the test's environment; returns the endpoint. */
async function register(r, token = tok) {
  const endpoint = dataOf(await oriel.api('POST', '/system/v1/webhooks', { token, body: { url: r.url } }), 201);
  r.secret = endpoint.signing_secret;
  return endpoint;
}

async function unregister(endpoint) {
  assert.equal((await oriel.api('DELETE', `/system/v1/webhooks/${endpoint.id}`, { token: tok })).status, 204);
}

before(async () => {
  oriel = await startOriel({ name: 'webhooks' });
  tok = await oriel.createAccessToken('hooks');
  mux = new Mux(tok.id, tok.secret, { baseUrl: oriel.baseUrl });
  key = dataOf(await oriel.api('POST', '/system/v1/signing-keys', { token: tok }), 201);
});

after(async () => {
  for (const r of receivers) await r.stop();
  await oriel.kill();
  oriel.cleanup();
  for (const r of receivers) assert.deepEqual(r.rejected, [], `${r.name} got deliveries that failed verification`);
});

test('endpoints: created with a secret, fetched, listed, deleted; bad URLs refused; environments isolated', async () => {
  const created = dataOf(
    await oriel.api('POST', '/system/v1/webhooks', { token: tok, body: { url: 'http://127.0.0.1:9/hooks' } }),
    201,
  );
  assert.match(created.id, /^[A-Za-z0-9]{20,64}$/);
  assert.equal(created.url, 'http://127.0.0.1:9/hooks');
  assert.ok(created.signing_secret.length >= 32, 'a long signing secret');
  assert.match(created.created_at, /^\d+$/);
  assert.deepEqual(dataOf(await oriel.api('GET', `/system/v1/webhooks/${created.id}`, { token: tok })), created);
  assert.ok(dataOf(await oriel.api('GET', '/system/v1/webhooks', { token: tok })).some((e) => e.id === created.id));

  for (const body of [{}, { url: '' }, { url: 'not a url' }, { url: 'ftp://example.com/x' }, { url: 42 }]) {
    assertErrorEnvelope(await oriel.api('POST', '/system/v1/webhooks', { token: tok, body }), 400, 'invalid_parameters');
  }
  const other = await oriel.createAccessToken('hooks-other');
  assertErrorEnvelope(await oriel.api('GET', `/system/v1/webhooks/${created.id}`, { token: other }), 404, 'not_found');
  assertErrorEnvelope(await oriel.api('DELETE', `/system/v1/webhooks/${created.id}`, { token: other }), 404, 'not_found');
  assert.deepEqual(dataOf(await oriel.api('GET', '/system/v1/webhooks', { token: other })), []);

  await unregister(created);
  assertErrorEnvelope(await oriel.api('GET', `/system/v1/webhooks/${created.id}`, { token: tok }), 404, 'not_found');
  assertErrorEnvelope(await oriel.api('DELETE', `/system/v1/webhooks/${created.id}`, { token: tok }), 404, 'not_found');
});

test("a space's life is told in order, in Mux's envelope, verified by @mux/mux-node", async () => {
  const r = await receiver('life');
  const endpoint = await register(r);
  const space = await mux.Video.Spaces.create({ passthrough: 'standup' });
  const conn = await oriel.expectJoined(joinToken(space.id, key, { participant_id: 'alice' }));
  await r.waitFor(() => r.types(space.id).length >= 3, { what: 'created, active, joined' });
  await conn.close();
  await r.waitFor(() => r.types(space.id).includes('video.space.idle'), { what: 'the space to go idle' });
  await mux.Video.Spaces.delete(space.id);
  await r.waitFor(() => r.types(space.id).includes('video.space.deleted'), { what: 'the deletion' });
  assert.deepEqual(r.types(space.id), [
    'video.space.created',
    'video.space.active',
    'video.space.participant.joined',
    'video.space.participant.left',
    'video.space.idle',
    'video.space.deleted',
  ]);
  const [created, active, joined] = r.deliveries.filter((d) => d.body.object.id === space.id);
  assert.match(created.body.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.deepEqual(created.body.object, { type: 'space', id: space.id });
  assert.equal(created.body.environment.name, 'hooks');
  assert.equal(typeof created.body.environment.id, 'string');
  assert.deepEqual(created.body.attempts, []);
  assert.equal(created.body.request_id, null);
  assert.match(created.body.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(created.body.data.id, space.id);
  assert.equal(created.body.data.passthrough, 'standup');
  assert.equal(created.body.data.status, 'idle');
  assert.equal(active.body.data.status, 'active');
  assert.equal(typeof active.body.data.active_session_id, 'string');
  assert.equal(joined.body.data.participant_id, 'alice');
  assert.equal(joined.body.data.session_id, active.body.data.active_session_id);
  assert.match(created.signature, /^t=\d+,v1=[0-9a-f]{64}$/);
  await unregister(endpoint);
});

test('live streams and broadcasts are told too: created, disabled, enabled, deleted; broadcast created and deleted', async () => {
  const r = await receiver('streams');
  const endpoint = await register(r);
  const stream = await mux.Video.LiveStreams.create({
    playback_policy: 'public',
    simulcast_targets: [{ url: 'rtmp://127.0.0.1:1/live', stream_key: 'k' }],
  });
  await mux.Video.LiveStreams.disable(stream.id);
  await mux.Video.LiveStreams.enable(stream.id);
  const space = await mux.Video.Spaces.create();
  const broadcast = await mux.Video.Spaces.Broadcasts.create(space.id, { live_stream_id: stream.id });
  await mux.Video.Spaces.Broadcasts.delete(space.id, broadcast.id);
  await mux.Video.LiveStreams.del(stream.id);
  await r.waitFor(() => r.types(stream.id).includes('video.live_stream.deleted'), { what: 'the live stream deletion' });
  assert.deepEqual(r.types(stream.id), [
    'video.live_stream.created',
    'video.live_stream.simulcast_target.created',
    'video.live_stream.disabled',
    'video.live_stream.enabled',
    'video.live_stream.deleted',
  ]);
  const first = r.deliveries.find((d) => d.body.object.id === stream.id);
  assert.deepEqual(first.body.object, { type: 'live', id: stream.id });
  assert.equal(first.body.data.playback_ids.length, 1);
  const target = r.deliveries.find((d) => d.body.type === 'video.live_stream.simulcast_target.created');
  assert.equal(target.body.data.live_stream_id, stream.id);
  assert.equal(target.body.data.url, 'rtmp://127.0.0.1:1/live');
  await r.waitFor(() => r.types(broadcast.id).includes('video.space.broadcast.deleted'), { what: 'the broadcast deletion' });
  assert.deepEqual(r.types(broadcast.id), ['video.space.broadcast.created', 'video.space.broadcast.deleted']);
  // Ordered per object, not across objects: the space's last update may come after the
  // broadcast's deletion.
  const spaceUpdates = () => r.deliveries.filter((d) => d.body.object.id === space.id).map((d) => [d.body.type, d.body.data.broadcasts?.length ?? 0]);
  await r.waitFor(() => spaceUpdates().length >= 3, { what: "the space's update after the broadcast deletion" });
  const updates = spaceUpdates();
  assert.deepEqual(updates, [
    ['video.space.created', 0],
    ['video.space.updated', 1],
    ['video.space.updated', 0],
  ]);
  await unregister(endpoint);
});

test('a receiver down for 20 s gets everything it missed, in order, with the failed attempts listed', async () => {
  const r = await receiver('down');
  const endpoint = await register(r);
  await r.stop();
  const spaces = [];
  for (let i = 0; i < 3; i++) spaces.push(await mux.Video.Spaces.create({ passthrough: `down-${i}` }));
  await mux.Video.Spaces.delete(spaces[0].id);
  await sleep(20_000);
  const log = dataOf(await oriel.api('GET', `/system/v1/webhooks/${endpoint.id}/deliveries`, { token: tok }));
  assert.equal(log.length, 4);
  for (const d of log) {
    assert.equal(d.status, 'pending');
    if (d.type === 'video.space.deleted') {
      // Held back behind the same space's unsent `created`: one object's events keep order.
      assert.equal(d.attempts, 0, `not sent before the event ahead of it: ${JSON.stringify(d)}`);
      continue;
    }
    assert.ok(d.attempts >= 2, `retried while down: ${JSON.stringify(d)}`);
    assert.equal(d.last_response_status_code, null);
    assert.match(d.last_error, /connect|refused/i);
  }
  await r.start();
  await r.waitFor((ds) => ds.length >= 4, { timeoutMs: 30_000, what: 'the four missed events' });
  assert.deepEqual(r.types(spaces[0].id), ['video.space.created', 'video.space.deleted']);
  for (const s of spaces) assert.equal(r.types(s.id)[0], 'video.space.created');
  for (const d of r.deliveries) {
    const held = d.body.type === 'video.space.deleted';
    assert.ok(held || d.body.attempts.length >= 2, `earlier attempts are in the envelope: ${d.raw}`);
    for (const a of d.body.attempts) {
      assert.equal(a.webhook_id, endpoint.id);
      assert.equal(a.address, r.url);
      assert.equal(a.response_status_code, null);
    }
  }
  // The receiver may see the last request a moment before the node records its answer.
  let after;
  for (const until = Date.now() + 5000; ; await sleep(50)) {
    after = dataOf(await oriel.api('GET', `/system/v1/webhooks/${endpoint.id}/deliveries`, { token: tok }));
    if (after.every((d) => d.status === 'delivered') || Date.now() > until) break;
  }
  assert.ok(after.every((d) => d.status === 'delivered' && d.last_response_status_code === 200), JSON.stringify(after));
  // The dashboard's "send again": delivered once more.
  const again = after[0];
  assert.equal(
    (await oriel.api('POST', `/system/v1/webhooks/${endpoint.id}/deliveries/${again.id}/resend`, { token: tok })).status,
    202,
  );
  await r.waitFor((ds) => ds.length >= 5, { what: 'the resent event' });
  assert.equal(r.deliveries[4].body.id, again.event_id);
  assertErrorEnvelope(
    await oriel.api('POST', `/system/v1/webhooks/${endpoint.id}/deliveries/999999/resend`, { token: tok }),
    404,
    'not_found',
  );
  await unregister(endpoint);
});

test('a node killed with SIGKILL while deliveries are pending delivers them all once restarted', async () => {
  const r = await receiver('crash');
  const endpoint = await register(r);
  await r.stop();
  const spaces = [];
  for (let i = 0; i < 5; i++) spaces.push(await mux.Video.Spaces.create({ passthrough: `crash-${i}` }));
  await oriel.kill();
  await r.start();
  await oriel.start();
  await r.waitFor((ds) => ds.length >= 5, { timeoutMs: 20_000, what: 'the five events from before the crash' });
  assert.deepEqual(
    r.deliveries.map((d) => d.body.data.passthrough).sort(),
    spaces.map((s) => s.passthrough).sort(),
  );
  await unregister(endpoint);
});

test('an endpoint answering 500 forever does not delay another', async () => {
  const good = await receiver('good');
  const bad = await receiver('bad');
  bad.mode = 'fail';
  const goodEndpoint = await register(good);
  const badEndpoint = await register(bad);
  // Let the failing endpoint build up retries first.
  await mux.Video.Spaces.create({ passthrough: 'warm-up' });
  await good.waitFor((ds) => ds.length >= 1);
  await sleep(3000);
  const delays = [];
  const creates = [];
  for (let i = 0; i < 10; i++) {
    const started = Date.now();
    const space = await mux.Video.Spaces.create({ passthrough: `fast-${i}` });
    creates.push(Date.now() - started);
    await good.waitFor(() => good.types(space.id).length === 1, { timeoutMs: 5000, what: `space ${i}` }).catch(async (e) => {
      const log = await oriel.api('GET', `/system/v1/webhooks/${goodEndpoint.id}/deliveries`, { token: tok });
      throw new Error(`${e.message}; the good endpoint's log: ${JSON.stringify(log.json)}`);
    });
    delays.push(Date.now() - started);
  }
  const badLog = dataOf(await oriel.api('GET', `/system/v1/webhooks/${badEndpoint.id}/deliveries`, { token: tok }));
  // Everything a failure needs to be understood from CI's output alone.
  const seen = async () =>
    `delays ${delays.join(', ')} ms (of which the create call ${creates.join(', ')} ms); ` +
    `the good endpoint's log: ${JSON.stringify((await oriel.api('GET', `/system/v1/webhooks/${goodEndpoint.id}/deliveries`, { token: tok })).json)}; ` +
    `the failing one's: ${JSON.stringify(badLog)}`;
  if (Math.max(...delays) >= 1000) assert.fail(`the good endpoint got every event within 1 s: ${await seen()}`);
  assert.equal(badLog.length, 11, await seen());
  assert.ok(badLog.every((d) => d.status === 'pending'), await seen());
  const warmUp = badLog[badLog.length - 1];
  assert.ok(warmUp.attempts >= 2, `the failing endpoint was retried: ${await seen()}`);
  assert.equal(warmUp.last_response_status_code, 500);
  await unregister(goodEndpoint);
  await unregister(badEndpoint);
});

test('--webhooks-refuse-private refuses loopback and private endpoints', async () => {
  const strict = await startOriel({ name: 'webhooks-strict', extraArgs: ['--webhooks-refuse-private'] });
  try {
    const t = await strict.createAccessToken('strict');
    for (const url of ['http://127.0.0.1:8000/x', 'http://10.0.0.1/x', 'http://[::1]/x', 'http://169.254.169.254/']) {
      const res = await strict.api('POST', '/system/v1/webhooks', { token: t, body: { url } });
      assertErrorEnvelope(res, 400, 'invalid_parameters');
      assert.match(res.json.error.messages[0], /private/);
    }
    dataOf(await strict.api('POST', '/system/v1/webhooks', { token: t, body: { url: 'https://hooks.example.com/mux' } }), 201);
  } finally {
    await strict.stop();
    strict.cleanup();
  }
});
