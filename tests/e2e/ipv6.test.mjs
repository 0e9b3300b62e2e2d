// Media over IPv6: a node started with `--media-ip ::1` advertises IPv6 candidates (and its
// TURN URLs in brackets), and the unmodified @mux/spaces-web 1.2.0 in Chromium publishes and
// subscribes over them. Signaling stays on the IPv4 --listen address.

import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { useE2E, checkSelectedPairs } from './lib/fixture.mjs';

const e2e = useE2E({ serverArgs: ['--media-ip', '::1'] });

describe('ipv6', () => {
  e2e.test('with --media-ip ::1 the call runs over IPv6 and frames decode', async () => {
    const call = await e2e.cameraCall();
    await checkSelectedPairs(call, (pair, who) => {
      assert.equal(pair.remoteAddress, '::1', `${who}: the node's IPv6 candidate: ${JSON.stringify(pair)}`);
      assert.ok(
        pair.iceServers.flat().every((url) => url.includes('[::1]')),
        `${who}: TURN URLs in brackets: ${JSON.stringify(pair.iceServers)}`,
      );
    });
  });
});
