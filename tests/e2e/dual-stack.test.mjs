// Several media IPs at once: a node started with `--media-ip 127.0.0.1 --media-ip ::1` (dual
// stack) binds every media port on both and offers UDP and ICE-TCP candidates on both. The
// unmodified @mux/spaces-web 1.2.0 in Chromium checks pairs on each family: both sockets must
// answer (a pair on each succeeds, over the call's peer connections), and the call decodes frames over whichever ICE picked.

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
    // Both sockets answer: over the call's peer connections (the subscriber's and the
    // publisher's), a UDP pair on each address succeeded. Chromium checks the pairs it does not
    // use at a slow pace once one is selected, so on a busy machine one participant's
    // connections alone may not have come to the second family yet.
    const udpPairs = async () =>
      (await Promise.all([call.sub.p, call.pub.p].map((p) => p.succeededPairs()))).flat().filter((x) => x.remoteProtocol === 'udp');
    const { value: pairs } = await eventually(udpPairs, (found) => new Set(found.map((x) => x.remoteAddress)).size === 2, {
      timeoutMs: 20_000,
      intervalMs: 250,
      what: 'UDP pairs succeeded on both media IPs',
    });
    assert.deepEqual([...new Set(pairs.map((x) => x.remoteAddress))].sort(), ['127.0.0.1', '::1'], JSON.stringify(pairs));
  });
});
