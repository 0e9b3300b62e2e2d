// Several media IPs at once: a node started with `--media-ip 127.0.0.1 --media-ip ::1` (dual
// stack) binds every media port on both and offers UDP and ICE-TCP candidates on both. The
// unmodified @mux/spaces-web 1.2.0 in Chromium checks pairs on each family: both sockets must
// answer (a pair on each succeeds), and the call decodes frames over whichever ICE picked.

import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { useE2E, checkSelectedPairs, eventually } from './lib/fixture.mjs';

const e2e = useE2E({ serverArgs: ['--media-ip', '127.0.0.1', '--media-ip', '::1'] });

describe('dual-stack', () => {
  e2e.test('with an IPv4 and an IPv6 --media-ip both answer and the call decodes frames', async () => {
    const call = await e2e.cameraCall();
    await checkSelectedPairs(call, (pair, who) => {
      assert.ok(['127.0.0.1', '::1'].includes(pair.remoteAddress), `${who}: one of the node's addresses: ${JSON.stringify(pair)}`);
    });
    for (const [who, p] of [['subscriber', call.sub.p], ['publisher', call.pub.p]]) {
      const { value: families } = await eventually(
        () => p.succeededPairs(),
        (pairs) => new Set(pairs.filter((x) => x.remoteProtocol === 'udp').map((x) => x.remoteAddress)).size === 2,
        { timeoutMs: 10_000, intervalMs: 250, what: `${who}: UDP pairs succeeded on both media IPs` },
      );
      const addresses = new Set(families.map((x) => x.remoteAddress));
      assert.deepEqual([...addresses].sort(), ['127.0.0.1', '::1'], `${who}: ${JSON.stringify(families)}`);
    }
  });
});
