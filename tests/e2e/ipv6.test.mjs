// Media over IPv6: a node started with `--media-ip ::1` advertises IPv6 candidates (and its
// TURN URLs in brackets), and the unmodified @mux/spaces-web 1.2.0 in Chromium publishes and
// subscribes over them. Signaling stays on the IPv4 --listen address.

import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { useE2E } from './lib/fixture.mjs';

const e2e = useE2E({ serverArgs: ['--media-ip', '::1'] });

describe('ipv6', () => {
  e2e.test('with --media-ip ::1 the call runs over IPv6 and frames decode', async () => {
    const space = await e2e.env.createSpace();
    const sub = await e2e.joined('viewer', space.id, { role: 'subscriber' });
    const pub = await e2e.joined('camera', space.id);
    const cam = await pub.p.publishCamera();
    assert.equal(cam.ok, true, `publishCamera: ${JSON.stringify(cam.error)}`);
    await sub.p.waitForFrames(pub.id, 10, 20_000);
    for (const [who, p] of [['subscriber', sub.p], ['publisher', pub.p]]) {
      const pairs = (await p.selectedPairs()).filter((s) => s.state === 'connected');
      assert.ok(pairs.length >= 1, `${who}: connected: ${JSON.stringify(pairs)}`);
      for (const pair of pairs) {
        assert.equal(pair.remoteAddress, '::1', `${who}: the node's IPv6 candidate: ${JSON.stringify(pair)}`);
      }
      assert.ok(
        pairs[0].iceServers.flat().every((url) => url.includes('[::1]')),
        `${who}: TURN URLs in brackets: ${JSON.stringify(pairs[0].iceServers)}`,
      );
    }
  });
});
