// Slow and idle clients: connections that send nothing, stall mid-header or idle after a
// request are closed (default header timeout, under 30 s); connections over the caps per client
// address and in total get a 503 and are closed while the node keeps serving others; SIGTERM
// ends the node within 10 s even with a half-sent request held open.
//
// Before the fix: idle connections stayed open past 65 s, 1,100 of them exhausted a 1,024
// descriptor limit (/healthz stopped answering), and a stalled header kept SIGTERM from ending
// the node.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { installFailureLogs, startOriel, dataOf, joinToken } from '../lib/oriel.mjs';

installFailureLogs();

/** Opens a connection from `localAddress`, writes `send` (if any); resolves once connected. */
function connect(port, { send, localAddress = '127.0.0.1' } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1', localAddress });
    const conn = { sock, data: '', closedAt: null, opened: Date.now() };
    conn.closed = new Promise((r) => sock.on('close', () => r((conn.closedAt = Date.now()))));
    sock.on('data', (d) => (conn.data += d.toString('latin1')));
    sock.on('error', () => {});
    sock.once('connect', () => {
      if (send) sock.write(send);
      resolve(conn);
    });
    sock.once('error', reject);
  });
}

const within = (promise, ms) => Promise.race([promise, new Promise((r) => setTimeout(() => r('timeout'), ms).unref())]);

test('idle, mid-header and kept-alive connections are closed by the default header timeout, under 30 s', async (t) => {
  const oriel = await startOriel({ name: 'idle' });
  try {
    const t0 = Date.now();
    const silent = await connect(oriel.port);
    const midHeader = await connect(oriel.port, { send: 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ' });
    const keptAlive = await connect(oriel.port, { send: 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' });
    const results = await Promise.all([silent, midHeader, keptAlive].map((c) => within(c.closed, 30_000)));
    t.diagnostic(`closed after ${results.map((r) => (r === 'timeout' ? 'timeout' : `${r - t0} ms`)).join(', ')}`);
    for (const [what, r] of [['silent', results[0]], ['mid-header', results[1]], ['kept alive', results[2]]]) {
      assert.notEqual(r, 'timeout', `${what} connection still open after 30 s`);
    }
    assert.match(keptAlive.data, /^HTTP\/1\.1 200/, 'the kept-alive connection got its answer first');
    assert.equal((await oriel.api('GET', '/healthz')).status, 200);
  } finally {
    await oriel.stop();
    oriel.cleanup();
  }
});

test('connections over the cap per address and in total get 503 and are closed; other clients are still served', async () => {
  const oriel = await startOriel({ name: 'caps', extraArgs: ['--max-connections-per-ip', '5', '--max-connections', '8'] });
  const held = [];
  try {
    for (let i = 0; i < 5; i++) held.push(await connect(oriel.port));
    const overIp = await connect(oriel.port);
    assert.notEqual(await within(overIp.closed, 5000), 'timeout', 'the 6th connection from one address is closed');
    assert.match(overIp.data, /^HTTP\/1\.1 503 /, `answered 503: ${overIp.data.slice(0, 100)}`);
    // Another address is still served...
    const other = await connect(oriel.port, { localAddress: '127.0.0.2', send: 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' });
    await within(other.closed, 5000);
    assert.match(other.data, /^HTTP\/1\.1 200 /, `another address is served: ${other.data.slice(0, 100)}`);
    // ...until the total cap.
    for (let i = 0; i < 3; i++) held.push(await connect(oriel.port, { localAddress: '127.0.0.2' }));
    const overTotal = await connect(oriel.port, { localAddress: '127.0.0.3' });
    assert.notEqual(await within(overTotal.closed, 5000), 'timeout', 'a connection over the total cap is closed');
    assert.match(overTotal.data, /^HTTP\/1\.1 503 /);
    // Places come back when connections close.
    for (const c of held.splice(0)) c.sock.destroy();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await oriel.api('GET', '/healthz')).status, 200);
  } finally {
    for (const c of held) c.sock.destroy();
    await oriel.stop();
    oriel.cleanup();
  }
});

test('1,100 idle connections from one address do not stop /healthz (default caps)', async (t) => {
  const oriel = await startOriel({ name: 'flood' });
  const held = [];
  try {
    for (let i = 0; i < 1100; i++) held.push(await connect(oriel.port));
    await new Promise((r) => setTimeout(r, 300));
    const refused = held.filter((c) => c.closedAt !== null).length;
    t.diagnostic(`${refused} of 1100 closed at once (cap 256 per address)`);
    assert.ok(refused >= 1100 - 256, `connections over the per-address cap are closed at once: ${refused}`);
    const probe = await connect(oriel.port, { localAddress: '127.0.0.2', send: 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' });
    await within(probe.closed, 2000);
    assert.match(probe.data, /^HTTP\/1\.1 200 /, `/healthz answers another client while one holds its maximum: ${probe.data.slice(0, 100)}`);
  } finally {
    for (const c of held) c.sock.destroy();
    await oriel.stop();
    oriel.cleanup();
  }
});

test('SIGTERM ends the node within 10 s with a half-sent request, an idle connection and a signaling socket open', async (t) => {
  const oriel = await startOriel({ name: 'sigterm' });
  const tok = await oriel.createAccessToken('sigterm');
  const key = dataOf(await oriel.api('POST', '/system/v1/signing-keys', { token: tok }), 201);
  const space = dataOf(await oriel.api('POST', '/video/v1/spaces', { token: tok, body: {} }), 201);
  const ws = await oriel.expectJoined(joinToken(space.id, key));
  const halfHeader = await connect(oriel.port, { send: 'POST /video/v1/spaces HTTP/1.1\r\nHost: x\r\nContent-' });
  const halfBody = await connect(oriel.port, { send: 'POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{' });
  const idle = await connect(oriel.port);
  try {
    const t0 = Date.now();
    await oriel.stop(); // asserts exit code 0 within 10 s
    t.diagnostic(`exited ${Date.now() - t0} ms after SIGTERM`);
    const closed = await within(ws.closed, 1000);
    assert.equal(closed.code, 1001, 'signaling sockets are told the server is going away');
  } finally {
    for (const c of [halfHeader, halfBody, idle]) c.sock.destroy();
    await oriel.kill();
    oriel.cleanup();
  }
});
