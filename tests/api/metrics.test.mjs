// GET /metrics: OpenMetrics that Prometheus's own parser reads, routes labelled by their
// template (never a raw path or id), joins counted, and --metrics-token enforced.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { installFailureLogs, startOriel, assertErrorEnvelope } from '../lib/oriel.mjs';
import { parseOpenMetrics, sampleValue } from '../lib/openmetrics.mjs';

installFailureLogs();

let oriel;
let token;
const SCRAPE = 'scrape-secret';

before(async () => {
  oriel = await startOriel({ name: 'metrics', extraArgs: ['--metrics-token', SCRAPE] });
  token = await oriel.createAccessToken('metrics');
});

after(async () => {
  await oriel.stop();
  oriel.cleanup();
});

const scrape = () => oriel.api('GET', '/metrics', { headers: { authorization: `Bearer ${SCRAPE}` } });

test('without the bearer token /metrics answers 401 in the error envelope; with it, OpenMetrics', async () => {
  assertErrorEnvelope(await oriel.api('GET', '/metrics'), 401, 'unauthorized');
  assertErrorEnvelope(await oriel.api('GET', '/metrics', { headers: { authorization: 'Bearer wrong' } }), 401, 'unauthorized');
  const res = await scrape();
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^application\/openmetrics-text/);
  const families = parseOpenMetrics(res.text);
  for (const name of ['oriel_build_info', 'oriel_http_requests', 'oriel_http_request_duration_seconds', 'oriel_join_duration_seconds',
    'oriel_media_datagrams_received', 'oriel_media_bytes_sent', 'oriel_participants', 'oriel_media_workers', 'oriel_compositors_running']) {
    assert.ok(families[name], `${name} in ${Object.keys(families).join(', ')}`);
  }
  assert.ok(sampleValue(families, 'oriel_media_workers') >= 1);
});

test('requests are counted by route template and status; ids never become labels', async () => {
  const before = parseOpenMetrics((await scrape()).text);
  const route = '/video/v1/spaces/{space_id}';
  const was = sampleValue(before, 'oriel_http_requests_total', { route, method: 'GET', status: '404' });
  for (const id of ['aaaaaaaaaaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbbbbbbbbbb', 'cccccccccccccccccccccccc']) {
    assert.equal((await oriel.api('GET', `/video/v1/spaces/${id}`, { token })).status, 404);
  }
  await oriel.api('GET', '/no/such/route/ddddddddddddddd', { token });
  const res = await scrape();
  const after = parseOpenMetrics(res.text);
  assert.equal(sampleValue(after, 'oriel_http_requests_total', { route, method: 'GET', status: '404' }), was + 3);
  assert.doesNotMatch(res.text, /aaaaaaaaaaaa|dddddddddddd|\/no\/such/);
  assert.ok(sampleValue(after, 'oriel_http_request_duration_seconds_count', { route }) >= 3);
});

test('a refused join and an accepted one are counted, the latter timed', async () => {
  const before = parseOpenMetrics((await scrape()).text);
  await oriel.expectRefused('not.a.jwt');
  const mux = (await import('@mux/mux-node')).default;
  const client = new mux(token.id, token.secret, { baseUrl: oriel.baseUrl });
  const space = await client.Video.Spaces.create();
  const key = await client.Video.SigningKeys.create();
  const jwt = mux.JWT.signSpaceId(space.id, { keyId: key.id, keySecret: key.private_key });
  const joined = await oriel.expectJoined(jwt);
  const during = parseOpenMetrics((await scrape()).text);
  joined.close();
  assert.equal(sampleValue(during, 'oriel_joins_total', { outcome: 'refused' }), sampleValue(before, 'oriel_joins_total', { outcome: 'refused' }) + 1);
  assert.equal(sampleValue(during, 'oriel_joins_total', { outcome: 'joined' }), sampleValue(before, 'oriel_joins_total', { outcome: 'joined' }) + 1);
  assert.equal(sampleValue(during, 'oriel_join_duration_seconds_count'), sampleValue(before, 'oriel_join_duration_seconds_count') + 1);
  assert.equal(sampleValue(during, 'oriel_participants'), 1);
});
