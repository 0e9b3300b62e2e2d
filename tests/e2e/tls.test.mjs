// Oriel serving https and wss (--tls-cert/--tls-key) to the unmodified @mux/spaces-web 1.2.0 in
// Chromium, which trusts the self-signed certificate by its public key (nothing else waived):
// the SDK signals over wss://, a publisher's camera decodes at a subscriber, and the REST API the
// test drives through @mux/mux-node is https.

import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { useE2E } from './lib/fixture.mjs';

const e2e = useE2E({ tls: true });

describe('tls', () => {
  e2e.test('publisher and subscriber over wss:// decode each other, the API over https', async () => {
    assert.match(e2e.server.baseUrl, /^https:\/\//);
    assert.match(e2e.server.backendUrl, /^wss:\/\//);
    const space = await e2e.env.createSpace();
    const pub = await e2e.joined('camera', space.id);
    const sub = await e2e.joined('viewer', space.id);
    assert.equal((await pub.p.publishCameraAndMic()).ok, true);
    await sub.p.waitForFrames(pub.id, 20, 20_000);
    const sockets = (await sub.p.sockets()).filter((s) => s.url.includes('/pluto/v1'));
    assert.ok(sockets.length > 0 && sockets.every((s) => s.url.startsWith('wss://127.0.0.1:')), JSON.stringify(sockets));
    const { status } = await e2e.env.getSpace(space.id);
    assert.equal(status, 'active');
    assert.deepEqual(sub.p.pageErrors, []);
  });
});
