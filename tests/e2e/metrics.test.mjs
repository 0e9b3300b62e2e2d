// /metrics during a real call: the unmodified @mux/spaces-web 1.2.0 in Chromium publishing and
// subscribing, read twice with Prometheus's own OpenMetrics parser; the media counters move,
// the gauges count the call, joins were timed and the API request that made the space counted.

import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { useE2E, sleep } from './lib/fixture.mjs';
import { parseOpenMetrics, sampleValue } from '../lib/openmetrics.mjs';

const e2e = useE2E();

async function scrape() {
  const res = await fetch(`${e2e.server.baseUrl}/metrics`, { signal: AbortSignal.timeout(5000) });
  assert.equal(res.status, 200);
  return parseOpenMetrics(await res.text());
}

describe('metrics', () => {
  e2e.test('counters move and gauges count a call in Chromium', async () => {
    const space = await e2e.env.createSpace();
    const pub = await e2e.joined('camera', space.id);
    const sub = await e2e.joined('viewer', space.id, { role: 'subscriber' });
    assert.equal((await pub.p.publishCameraAndMic()).ok, true);
    await sub.p.waitForFrames(pub.id, 10, 15_000);

    const first = await scrape();
    await sleep(2000);
    const second = await scrape();
    for (const name of ['oriel_media_datagrams_received_total', 'oriel_media_bytes_received_total', 'oriel_media_datagrams_sent_total', 'oriel_media_bytes_sent_total']) {
      assert.ok(sampleValue(second, name) > sampleValue(first, name), `${name}: ${sampleValue(first, name)} -> ${sampleValue(second, name)}`);
    }
    // 2 s of a 20 fps camera with three layers and audio: hundreds of datagrams each way.
    assert.ok(sampleValue(second, 'oriel_media_datagrams_received_total') - sampleValue(first, 'oriel_media_datagrams_received_total') > 200);
    assert.equal(sampleValue(second, 'oriel_participants'), 2);
    assert.equal(sampleValue(second, 'oriel_spaces_active'), 1);
    assert.equal(sampleValue(second, 'oriel_media_connections'), 2);
    assert.ok(sampleValue(second, 'oriel_join_duration_seconds_count') >= 2);
    assert.ok(sampleValue(second, 'oriel_keyframe_requests_total') >= 1, 'the subscriber started from a requested keyframe');
    assert.ok(sampleValue(second, 'oriel_media_egress_estimate_bps') > 100_000, 'a bandwidth estimate towards the subscriber');
    // Loopback loses nothing, but the series exist (quality.test.mjs sees them move under loss).
    const exposed = (name) => Object.values(second).some((f) => f.samples.some((s) => s.name === name));
    assert.ok(exposed('oriel_media_nacks_received_total'), 'NACKs are exposed');
    assert.ok(exposed('oriel_media_packets_lost_reported_total'), 'reported loss is exposed');
    assert.ok(sampleValue(second, 'oriel_http_requests_total', { route: '/video/v1/spaces', method: 'POST', status: '201' }) >= 1);
  });
});
