// Handover with participants that do not come back (the browser side is tests/e2e/handover):
// a second `oriel serve` on the same --listen and --data-dir binds beside the first; SIGTERM to
// the first closes its signaling sockets with 1001 and leaves the space's status alone (the
// successor owns it now); the successor, once the first is gone and nobody reconnected within
// its grace period (10 s), marks the space idle. Without the handover the second node cannot
// bind at all, and a first node that marked spaces idle at shutdown would cut a session that
// reconnects.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { installFailureLogs, startOriel, OrielServer, freeUdpPortRange, dataOf, joinToken, sleep } from '../lib/oriel.mjs';

installFailureLogs();

test('a successor binds beside a running node; the old one hands over; spaces nobody returns to go idle after the grace period', async (t) => {
  const first = await startOriel({ name: 'first' });
  const second = new OrielServer({ name: 'second' });
  try {
    const tok = await first.createAccessToken('handover');
    const key = dataOf(await first.api('POST', '/system/v1/signing-keys', { token: tok }), 201);
    const space = dataOf(await first.api('POST', '/video/v1/spaces', { token: tok, body: {} }), 201);
    const conn = await first.expectJoined(joinToken(space.id, key));
    const active = dataOf(await first.api('GET', `/video/v1/spaces/${space.id}`, { token: tok }));
    assert.equal(active.status, 'active');

    // Same address and data directory, its own media ports.
    second.port = first.port;
    second.mediaPort = await freeUdpPortRange();
    second.dataDir = first.dataDir;
    await second.start();
    const deadline = Date.now() + 10_000;
    while (!/oriel is serving/.test(fs.readFileSync(second.logFile, 'utf8'))) {
      assert.ok(Date.now() < deadline, 'the second node serves beside the first');
      await sleep(50);
    }
    assert.match(fs.readFileSync(second.logFile, 'utf8'), /taking over/);
    // The first node's startup-style deactivation did not run on the second: still active.
    assert.equal(dataOf(await second.api('GET', `/video/v1/spaces/${space.id}`, { token: tok })).status, 'active');

    const t0 = Date.now();
    await first.stop(); // exit code 0 within 10 s
    const closed = await conn.closed;
    assert.equal(closed.code, 1001, 'the old node closes signaling sockets with 1001 (the SDK reconnects after it)');
    // The participant does not come back: the space stays active in the grace period...
    const during = dataOf(await second.api('GET', `/video/v1/spaces/${space.id}`, { token: tok }));
    assert.deepEqual([during.status, during.active_session_id], ['active', active.active_session_id], 'the old node left the status alone');
    // ...and goes idle after it.
    let now;
    for (;;) {
      now = dataOf(await second.api('GET', `/video/v1/spaces/${space.id}`, { token: tok }));
      if (now.status === 'idle' || Date.now() - t0 > 20_000) break;
      await sleep(250);
    }
    t.diagnostic(`idle ${Date.now() - t0} ms after SIGTERM to the old node`);
    assert.equal(now.status, 'idle', 'the successor marks idle a space nobody reconnected to');
    assert.ok(Date.now() - t0 >= 9000, 'not before the grace period');

    // The successor is the primary now: a new participant makes the space active, leaving makes it idle.
    const again = await second.expectJoined(joinToken(space.id, key));
    assert.equal(dataOf(await second.api('GET', `/video/v1/spaces/${space.id}`, { token: tok })).status, 'active');
    await again.close();
    await sleep(300);
    assert.equal(dataOf(await second.api('GET', `/video/v1/spaces/${space.id}`, { token: tok })).status, 'idle');
  } finally {
    await first.kill();
    await second.stop().catch(() => second.kill());
    first.cleanup();
    second.cleanup();
  }
});
