// Wrong credentials cost a bounded amount, whoever sends them and however many: the node's
// memory stays small through a burst of wrong access-token secrets (each Argon2id check holds
// 19 MiB), a caller whose secret is known good is answered at once meanwhile, and failed
// sign-ins are limited per client address and per email, never for the whole node.
//
// Guessers send from other loopback addresses (127.0.0.2 and up: the whole of 127.0.0.0/8 is
// local), so per-address limits can be told apart from node-wide ones.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { installFailureLogs, startOriel, runCli, assertErrorEnvelope, describe } from '../lib/oriel.mjs';

installFailureLogs();

const EMAIL = 'grace@example.com';
const PASSWORD = 'a correct sign-in password';

let oriel;
let tok;

before(async () => {
  oriel = await startOriel({ name: 'credential-limits' });
  tok = await oriel.createAccessToken('limits');
  const { code, stderr } = await runCli(['admin', 'create-user', '--data-dir', oriel.dataDir, '--email', EMAIL, '--password', PASSWORD]);
  assert.equal(code, 0, stderr);
});

after(async () => {
  await oriel.stop();
  oriel.cleanup();
});

/** One request on its own connection from `localAddress`: {status, headers, json, ms}. */
function send(method, path, { from = '127.0.0.1', authorization, body } = {}) {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        host: '127.0.0.1', port: oriel.port, method, path, localAddress: from, agent: false,
        headers: {
          ...(authorization ? { authorization } : {}),
          ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
        },
        timeout: 30_000,
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let json = null;
          try { json = JSON.parse(text); } catch { /* not JSON */ }
          resolve({ status: res.statusCode, headers: new Headers(res.headers), json, text, ms: performance.now() - started });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} from ${from}: no answer in 30 s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

const basic = (id, secret) => 'Basic ' + Buffer.from(`${id}:${secret}`).toString('base64');

/** The node's resident memory now and at its peak, in MiB (Linux /proc). */
function memoryMiB() {
  const status = fs.readFileSync(`/proc/${oriel.child.pid}/status`, 'utf8');
  const kib = (field) => Number(status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'))[1]);
  return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 };
}

test('200 concurrent wrong secrets for a known token id: memory stays under 200 MiB, a known-good caller is answered within 1 s meanwhile', async (t) => {
  const good = basic(tok.id, tok.secret);
  assert.equal((await send('GET', '/video/v1/spaces', { authorization: good })).status, 200);
  const before = memoryMiB();

  // Half from one address, half from a hundred others: the per-address limit stops the first
  // half early, the per-token limit and the Argon2 slots bound the rest.
  const wrong = Array.from({ length: 200 }, (_, i) => send('GET', '/video/v1/spaces', {
    from: i < 100 ? '127.0.0.2' : `127.0.1.${i - 99}`,
    authorization: basic(tok.id, `wrong-secret-${i}-${Math.random()}`),
  }));
  await new Promise((r) => setTimeout(r, 50));
  const meanwhile = await send('GET', '/video/v1/spaces', { authorization: good });
  const answers = await Promise.all(wrong);
  const after = memoryMiB();

  t.diagnostic(`RSS ${before.rss.toFixed(0)} MiB before, peak ${after.peak.toFixed(0)} MiB; known-good answer in ${meanwhile.ms.toFixed(0)} ms`);
  assert.equal(meanwhile.status, 200, describe(meanwhile));
  assert.ok(meanwhile.ms < 1000, `the known-good caller waited ${meanwhile.ms.toFixed(0)} ms`);
  const byStatus = {};
  for (const res of answers) {
    byStatus[res.status] = (byStatus[res.status] || 0) + 1;
    if (res.status === 401) assertErrorEnvelope(res, 401, 'unauthorized');
    else if (res.status === 429) assertErrorEnvelope(res, 429, 'too_many_requests');
    else assert.fail(`a wrong secret got ${describe(res)}`);
  }
  t.diagnostic(`answers to the guesses: ${JSON.stringify(byStatus)}`);
  assert.ok(byStatus[429] >= 100, `the limits refused too few guesses: ${JSON.stringify(byStatus)}`);
  assert.ok(after.peak < 200, `peak RSS ${after.peak.toFixed(0)} MiB (before the burst ${before.rss.toFixed(0)} MiB, now ${after.rss.toFixed(0)} MiB)`);

  // The real caller's own budget was not spent by the guessers.
  assert.equal((await send('GET', '/video/v1/spaces', { authorization: good, from: '127.0.0.2' })).status, 200,
    'a known-good secret is served even from the address that guessed');
});

test('a client address that keeps failing is refused with 429 and Retry-After; other addresses and other tokens are not', async () => {
  const other = await oriel.createAccessToken('limits-other');
  let refused;
  for (let i = 0; i < 25 && !refused; i++) {
    const res = await send('GET', '/video/v1/spaces', { from: '127.0.0.3', authorization: basic(other.id, `nope-${i}`) });
    if (res.status === 429) refused = res;
    else assertErrorEnvelope(res, 401, 'unauthorized');
  }
  assert.ok(refused, 'no 429 after 25 wrong secrets from one address');
  assert.ok(Number(refused.headers.get('retry-after')) >= 1);
  // A secret never verified before, from an address that did not guess, is checked and served.
  const fresh = await oriel.createAccessToken('limits-fresh');
  assert.equal((await send('GET', '/video/v1/spaces', { from: '127.0.0.4', authorization: basic(fresh.id, fresh.secret) })).status, 200);
  // The same wrong secret again costs no Argon2 check and still gets its 401.
  const again = await send('GET', '/video/v1/spaces', { from: '127.0.0.5', authorization: basic(fresh.id, 'wrong') });
  assertErrorEnvelope(again, 401, 'unauthorized');
  assertErrorEnvelope(await send('GET', '/video/v1/spaces', { from: '127.0.0.5', authorization: basic(fresh.id, 'wrong') }), 401, 'unauthorized');
});

test('a correct sign-in succeeds during a burst of wrong ones for other emails from another address', async () => {
  const signIn = (from, email, password) => send('POST', '/dashboard/api/sign-in', { from, body: { email, password } });
  const burst = Array.from({ length: 60 }, (_, i) => signIn('127.0.0.6', `someone-${i}-${Math.random()}@example.com`, `guess-${i}-password`));
  await new Promise((r) => setTimeout(r, 50));
  const mine = await signIn('127.0.0.1', EMAIL, PASSWORD);
  const answers = await Promise.all(burst);
  assert.equal(mine.status, 200, describe(mine));
  assert.match(mine.headers.get('set-cookie') || '', /HttpOnly/i);
  const statuses = answers.map((r) => r.status);
  assert.ok(statuses.every((s) => s === 401 || s === 429), JSON.stringify(statuses));
  assert.ok(statuses.filter((s) => s === 429).length >= 20, `the guessing address was not limited: ${JSON.stringify(statuses)}`);
});

test('guessing one account from one address stops that address, not the account owner elsewhere', async () => {
  const signIn = (from, password) => send('POST', '/dashboard/api/sign-in', { from, body: { email: EMAIL, password } });
  const statuses = [];
  for (let i = 0; i < 12; i++) statuses.push((await signIn('127.0.0.7', `not-it-${i}-password`)).status);
  assert.deepEqual(statuses.slice(0, 10), Array(10).fill(401));
  assert.deepEqual(statuses.slice(10), [429, 429], JSON.stringify(statuses));
  assertErrorEnvelope(await signIn('127.0.0.7', PASSWORD), 429, 'too_many_requests');
  assert.equal((await signIn('127.0.0.8', PASSWORD)).status, 200, 'the owner signs in from elsewhere');
});

test('JSON answers carry X-Content-Type-Options: nosniff, errors included', async () => {
  const answers = [
    await send('GET', '/healthz'),
    await send('GET', '/video/v1/spaces', { authorization: basic(tok.id, tok.secret) }),
    await send('GET', '/video/v1/spaces'),
    await send('GET', '/no/such/route'),
    await send('POST', '/dashboard/api/sign-in', { body: { email: EMAIL } }),
  ];
  for (const res of answers) {
    assert.match(res.headers.get('content-type') || '', /application\/json/, describe(res));
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff', describe(res));
  }
});
