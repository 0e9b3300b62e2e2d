// Every error case of the REST API, in Mux's envelope {"error": {"type", "messages": [...]}},
// against the real binary. Also: the happy-path status codes, active spaces (412), rate limits.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  installFailureLogs,
  startOriel,
  assertErrorEnvelope,
  assertSpace,
  dataOf,
  describe,
  joinToken,
  requestExpectContinue,
  sleep,
} from '../lib/oriel.mjs';

installFailureLogs();

let oriel;
let tok;
let space; // an idle space
let key; // a signing key with private_key

const LIST_PATHS = ['/video/v1/spaces', '/system/v1/signing-keys', '/video/v1/signing-keys'];

before(async () => {
  oriel = await startOriel({ name: 'errors' });
  tok = await oriel.createAccessToken('errors');
  space = dataOf(await oriel.api('POST', '/video/v1/spaces', { token: tok, body: { passthrough: 'errors' } }), 201);
  key = dataOf(await oriel.api('POST', '/system/v1/signing-keys', { token: tok }), 201);
});

after(async () => {
  await oriel.kill();
  oriel.cleanup();
});

test('GET /healthz answers 200 {"status":"ok"} without authentication', async () => {
  const res = await oriel.api('GET', '/healthz');
  assert.equal(res.status, 200, describe(res));
  assert.deepEqual(res.json, { status: 'ok' });
});

// ----------------------------------------------------------------------------------------------
// happy path status codes (the SDK hides them)

test('happy path: 201 on create, 200 on get/list, 204 with an empty body on delete, JSON content type', async () => {
  const created = await oriel.api('POST', '/video/v1/spaces', { token: tok, body: { passthrough: 'codes' } });
  assert.equal(created.status, 201, describe(created));
  assert.match(created.headers.get('content-type') || '', /^application\/json/);
  const s = dataOf(created, 201);
  assertSpace(s, { passthrough: 'codes' });

  const got = await oriel.api('GET', `/video/v1/spaces/${s.id}`, { token: tok });
  assert.deepEqual(dataOf(got), s);
  assert.match(got.headers.get('content-type') || '', /^application\/json/);

  const list = await oriel.api('GET', '/video/v1/spaces', { token: tok });
  assert.ok(Array.isArray(dataOf(list)));

  const del = await oriel.api('DELETE', `/video/v1/spaces/${s.id}`, { token: tok });
  assert.equal(del.status, 204, describe(del));
  assert.equal(del.text, '', '204 has no body');

  for (const base of ['/system/v1/signing-keys', '/video/v1/signing-keys']) {
    const k = await oriel.api('POST', base, { token: tok });
    const kd = dataOf(k, 201);
    assert.equal(typeof kd.private_key, 'string');
    const kg = await oriel.api('GET', `${base}/${kd.id}`, { token: tok });
    assert.deepEqual(dataOf(kg), { id: kd.id, created_at: kd.created_at });
    const kdel = await oriel.api('DELETE', `${base}/${kd.id}`, { token: tok });
    assert.equal(kdel.status, 204, describe(kdel));
    assert.equal(kdel.text, '');
  }
});

test('POST /system/v1/signing-keys accepts an empty JSON object body (what @mux/mux-node sends)', async () => {
  const res = await oriel.api('POST', '/system/v1/signing-keys', { token: tok, body: {} });
  dataOf(res, 201);
});

// ----------------------------------------------------------------------------------------------
// 401

function authCases() {
  const b64 = (s) => Buffer.from(s).toString('base64');
  return [
    ['no Authorization header', {}],
    ['wrong secret', { authorization: 'Basic ' + b64(`${tok.id}:${tok.secret}x`) }],
    ['empty secret', { authorization: 'Basic ' + b64(`${tok.id}:`) }],
    ['unknown token id', { authorization: 'Basic ' + b64(`00000000-0000-0000-0000-000000000000:${tok.secret}`) }],
    ['secret used as the id', { authorization: 'Basic ' + b64(`${tok.secret}:${tok.id}`) }],
    ['malformed Basic: not base64', { authorization: 'Basic !!!not-base64!!!' }],
    ['malformed Basic: no colon', { authorization: 'Basic ' + b64(`${tok.id}${tok.secret}`) }],
    ['malformed Basic: empty credentials', { authorization: 'Basic ' }],
    ['malformed Basic: not UTF-8', { authorization: 'Basic ' + Buffer.from([0xff, 0xfe, 0x3a, 0xff]).toString('base64') }],
    ['non-Basic scheme (Bearer)', { authorization: `Bearer ${tok.secret}` }],
    ['non-Basic scheme (Digest)', { authorization: `Digest username="${tok.id}"` }],
  ];
}

test('401 unauthorized with WWW-Authenticate for every bad or missing credential, on every route', async () => {
  const routes = [
    ['GET', '/video/v1/spaces'],
    ['POST', '/video/v1/spaces'],
    ['GET', `/video/v1/spaces/${space.id}`],
    ['DELETE', `/video/v1/spaces/${space.id}`],
    ['GET', '/system/v1/signing-keys'],
    ['POST', '/system/v1/signing-keys'],
    ['GET', `/system/v1/signing-keys/${key.id}`],
    ['DELETE', `/system/v1/signing-keys/${key.id}`],
    ['GET', '/video/v1/signing-keys'],
    ['DELETE', `/video/v1/signing-keys/${key.id}`],
  ];
  for (const [name, headers] of authCases()) {
    for (const [method, path] of routes) {
      const body = method === 'POST' ? {} : undefined;
      const res = await oriel.api(method, path, { headers, body });
      try {
        assertErrorEnvelope(res, 401, 'unauthorized');
        const www = res.headers.get('www-authenticate');
        assert.ok(www, 'WWW-Authenticate header');
        assert.match(www, /^Basic\b/i, 'WWW-Authenticate names the Basic scheme');
      } catch (e) {
        e.message = `${name}: ${method} ${path}: ${e.message}`;
        throw e;
      }
    }
  }
  // nothing was deleted by the unauthenticated DELETEs
  dataOf(await oriel.api('GET', `/video/v1/spaces/${space.id}`, { token: tok }));
  dataOf(await oriel.api('GET', `/system/v1/signing-keys/${key.id}`, { token: tok }));
});

// ----------------------------------------------------------------------------------------------
// 404

test('404 not_found for an unknown space id (GET and DELETE)', async () => {
  for (const method of ['GET', 'DELETE']) {
    const res = await oriel.api(method, '/video/v1/spaces/NoSuchSpace0000000000000000000', { token: tok });
    assertErrorEnvelope(res, 404, 'not_found');
  }
});

test('404 not_found for an unknown signing key (GET and DELETE, both paths)', async () => {
  for (const base of ['/system/v1/signing-keys', '/video/v1/signing-keys']) {
    for (const method of ['GET', 'DELETE']) {
      const res = await oriel.api(method, `${base}/NoSuchKey000000000000000000000`, { token: tok });
      assertErrorEnvelope(res, 404, 'not_found');
    }
  }
});

test('404 not_found for unknown routes under /video/v1 and /system/v1', async () => {
  for (const path of [
    '/video/v1/nothing-here',
    '/video/v1/',
    `/video/v1/spaces/${space.id}/nothing`,
    '/system/v1/nothing-here',
  ]) {
    const res = await oriel.api('GET', path, { token: tok });
    assertErrorEnvelope(res, 404, 'not_found');
  }
});

test('odd ids (very long, encoded slashes, NUL, unicode, SQL) answer 404 or 400 in the envelope', async () => {
  const ids = [
    'x'.repeat(5000),
    '%00',
    '..%2F..%2Fetc%2Fpasswd',
    '%E2%9C%93',
    "'%20OR%201=1--",
    '%25',
    '%FF%FE',
  ];
  for (const id of ids) {
    for (const base of ['/video/v1/spaces', '/system/v1/signing-keys']) {
      for (const method of ['GET', 'DELETE']) {
        const res = await oriel.api(method, `${base}/${id}`, { token: tok });
        const what = `${method} ${base}/${id.slice(0, 40)}`;
        assert.ok(res.status === 404 || res.status === 400, `${what}: ${describe(res)}`);
        try {
          assertErrorEnvelope(res);
        } catch (e) {
          e.message = `${what}: ${e.message}`;
          throw e;
        }
      }
    }
  }
  // nothing was deleted
  dataOf(await oriel.api('GET', `/video/v1/spaces/${space.id}`, { token: tok }));
});

// ----------------------------------------------------------------------------------------------
// 400

async function expectInvalid(method, path, opts) {
  const res = await oriel.api(method, path, { token: tok, ...opts });
  try {
    assertErrorEnvelope(res, 400, 'invalid_parameters');
  } catch (e) {
    e.message = `${method} ${path} ${JSON.stringify(opts).slice(0, 120)}: ${e.message}`;
    throw e;
  }
  return res;
}

test('400 invalid_parameters for malformed JSON', async () => {
  for (const raw of ['{"passthrough": ', '{passthrough: "x"}', '{"passthrough": "x",}', 'nul', '{"a":1}{"b":2}']) {
    await expectInvalid('POST', '/video/v1/spaces', {
      rawBody: raw,
      headers: { 'content-type': 'application/json' },
    });
  }
});

test('400 invalid_parameters when the body is not a JSON object', async () => {
  for (const body of [[], [{ passthrough: 'x' }], 'a string', 42, true]) {
    await expectInvalid('POST', '/video/v1/spaces', { body });
  }
});

test('400 invalid_parameters when passthrough is not a string', async () => {
  for (const passthrough of [42, true, { a: 1 }, ['x']]) {
    await expectInvalid('POST', '/video/v1/spaces', { body: { passthrough } });
  }
});

test('passthrough: 255 characters are accepted, 256 are refused with 400', async () => {
  const p255 = 'p'.repeat(255);
  const ok = dataOf(await oriel.api('POST', '/video/v1/spaces', { token: tok, body: { passthrough: p255 } }), 201);
  assert.equal(ok.passthrough, p255);
  assert.deepEqual(dataOf(await oriel.api('GET', `/video/v1/spaces/${ok.id}`, { token: tok })), ok);
  await expectInvalid('POST', '/video/v1/spaces', { body: { passthrough: 'p'.repeat(256) } });
  await expectInvalid('POST', '/video/v1/spaces', { body: { passthrough: 'p'.repeat(10000) } });
});

test('passthrough length counts characters: 255 two-byte characters are accepted', async () => {
  const p = 'é'.repeat(255);
  const ok = dataOf(await oriel.api('POST', '/video/v1/spaces', { token: tok, body: { passthrough: p } }), 201);
  assert.equal(ok.passthrough, p);
});

test('400 invalid_parameters for an unknown type ("peer") or a type that is not a string', async () => {
  for (const type of ['peer', 'Server', '', 42, null]) {
    if (type === null) continue; // null may reasonably mean "default"
    await expectInvalid('POST', '/video/v1/spaces', { body: { type } });
  }
  const ok = dataOf(await oriel.api('POST', '/video/v1/spaces', { token: tok, body: { type: 'server' } }), 201);
  assert.equal(ok.type, 'server');
});

test('400 invalid_parameters for bad limit/page values on every list', async () => {
  const bad = [
    'limit=abc',
    'limit=0',
    'limit=101',
    'limit=-1',
    'limit=1.5',
    'limit=99999999999999999999999',
    'page=0',
    'page=abc',
    'page=-1',
    'page=1.5',
    'limit=10&page=0',
  ];
  for (const path of LIST_PATHS) {
    for (const q of bad) await expectInvalid('GET', `${path}?${q}`, {});
  }
});

test('limit/page at their bounds are accepted', async () => {
  for (const path of LIST_PATHS) {
    for (const q of ['limit=1', 'limit=100', 'page=1', 'limit=100&page=1', 'limit=25&page=1000']) {
      const res = await oriel.api('GET', `${path}?${q}`, { token: tok });
      assert.ok(Array.isArray(dataOf(res)), `${path}?${q}`);
    }
  }
});

// ----------------------------------------------------------------------------------------------
// 412: an active space

async function getSpace(id) {
  return dataOf(await oriel.api('GET', `/video/v1/spaces/${id}`, { token: tok }));
}

async function waitForStatus(id, status, withinMs) {
  const deadline = Date.now() + withinMs;
  let s;
  for (;;) {
    s = await getSpace(id);
    if (s.status === status) return s;
    if (Date.now() > deadline) assert.fail(`space ${id} did not become ${status} within ${withinMs} ms: ${JSON.stringify(s)}`);
    await sleep(50);
  }
}

test('an open /pluto/v1 socket makes a space active; DELETE is 412 failed_request; closing makes it idle', async () => {
  const s = dataOf(await oriel.api('POST', '/video/v1/spaces', { token: tok, body: { passthrough: 'active' } }), 201);
  const conn = await oriel.expectJoined(joinToken(s.id, key));
  let first;
  try {
    first = await waitForStatus(s.id, 'active', 1000);
    assert.equal(typeof first.active_session_id, 'string', `active_session_id: ${JSON.stringify(first)}`);
    assert.ok(first.active_session_id.length > 0 && first.active_session_id.length <= 255);
    assert.equal(first.passthrough, 'active');

    const listed = dataOf(await oriel.api('GET', '/video/v1/spaces?limit=100', { token: tok })).find((x) => x.id === s.id);
    assert.equal(listed?.status, 'active', 'the list shows the space active too');
    assert.equal(listed?.active_session_id, first.active_session_id);

    const del = await oriel.api('DELETE', `/video/v1/spaces/${s.id}`, { token: tok });
    assertErrorEnvelope(del, 412, 'failed_request');
    assert.equal((await getSpace(s.id)).status, 'active', 'the refused delete changed nothing');
  } finally {
    await conn.close();
  }
  const idle = await waitForStatus(s.id, 'idle', 1000);
  assert.ok(!('active_session_id' in idle), `active_session_id must be absent while idle: ${JSON.stringify(idle)}`);
  assertSpace(idle, { passthrough: 'active' });

  // a second active period gets a new session id
  const conn2 = await oriel.expectJoined(joinToken(s.id, key));
  let second;
  try {
    second = await waitForStatus(s.id, 'active', 1000);
    assert.notEqual(second.active_session_id, first.active_session_id, 'a new active_session_id per active period');
  } finally {
    await conn2.close();
  }
  await waitForStatus(s.id, 'idle', 1000);
  const del = await oriel.api('DELETE', `/video/v1/spaces/${s.id}`, { token: tok });
  assert.equal(del.status, 204, `an idle space can be deleted: ${describe(del)}`);
});

test('a space stays active while at least one socket is open', async () => {
  const s = dataOf(await oriel.api('POST', '/video/v1/spaces', { token: tok, body: {} }), 201);
  const a = await oriel.expectJoined(joinToken(s.id, key));
  const b = await oriel.expectJoined(joinToken(s.id, key));
  try {
    const active = await waitForStatus(s.id, 'active', 1000);
    await a.close();
    await sleep(300);
    const still = await getSpace(s.id);
    assert.equal(still.status, 'active', 'one participant is still connected');
    assert.equal(still.active_session_id, active.active_session_id, 'same active period, same session id');
    const del = await oriel.api('DELETE', `/video/v1/spaces/${s.id}`, { token: tok });
    assertErrorEnvelope(del, 412, 'failed_request');
  } finally {
    await a.close();
    await b.close();
  }
  await waitForStatus(s.id, 'idle', 1000);
});

test('a client flooding its signaling socket gets a fatal error and close 4000 while it is still sending; the others stay', async () => {
  const s = dataOf(await oriel.api('POST', '/video/v1/spaces', { token: tok, body: {} }), 201);
  const calm = await oriel.expectJoined(joinToken(s.id, key));
  const flood = await oriel.expectJoined(joinToken(s.id, key));
  // Frames of 4 KB, far over the limit of 200 a second, sent without pause until the server
  // closes: it closes with our frames still unread in its receive buffer. Bounded in count.
  const frame = JSON.stringify({ not_a_message: 'x'.repeat(4000) });
  let sent = 0;
  while (flood.ws.readyState === flood.ws.OPEN && sent < 5000) {
    if (flood.ws.bufferedAmount < 256 * 1024) {
      flood.ws.send(frame);
      sent++;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  const closed = await Promise.race([flood.closed, sleep(5000).then(() => 'timeout')]);
  assert.notEqual(closed, 'timeout', `still open after ${sent} frames`);
  assert.equal(closed.code, 4000, `closed with ${closed.code} "${closed.reason}" after ${sent} frames: the close frame must arrive, not a reset`);
  const fatal = flood.messages.map((m) => m.json?.error).find((e) => e?.fatal);
  assert.match(fatal?.message ?? '', /too many messages/, 'a fatal error says why');
  assert.equal(calm.ws.readyState, calm.ws.OPEN, 'the other participant is still connected');
  await calm.close();
});

// ----------------------------------------------------------------------------------------------
// robustness: never a 500, always the envelope

test('odd requests never give a 500 and every error is in the envelope', async () => {
  const deep = '['.repeat(100000) + ']'.repeat(100000);
  const cases = [
    ['PUT', '/video/v1/spaces', { body: {} }],
    ['PATCH', `/video/v1/spaces/${space.id}`, { body: { passthrough: 'x' } }],
    ['POST', `/video/v1/spaces/${space.id}`, { body: {} }],
    ['PUT', `/system/v1/signing-keys/${key.id}`, { body: {} }],
    ['POST', '/video/v1/spaces', { rawBody: deep, headers: { 'content-type': 'application/json' } }],
    ['POST', '/video/v1/spaces', { rawBody: '{"passthrough":' + '{"a":'.repeat(5000) + '1' + '}'.repeat(5001), headers: { 'content-type': 'application/json' } }],
    ['POST', '/video/v1/spaces', { rawBody: Buffer.from([0x7b, 0x22, 0x70, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), headers: { 'content-type': 'application/json' } }],
    ['POST', '/video/v1/spaces', { rawBody: '{"passthrough": "\\ud800"}', headers: { 'content-type': 'application/json' } }],
    ['POST', '/video/v1/spaces', { rawBody: '{"passthrough": "a\\u0000b"}', headers: { 'content-type': 'application/json' } }],
    ['POST', '/video/v1/spaces', { rawBody: '{"type": 1e999}', headers: { 'content-type': 'application/json' } }],
    ['POST', '/video/v1/spaces', { rawBody: 'passthrough=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }],
    ['POST', '/video/v1/spaces', { rawBody: '{"passthrough":"x"}', headers: { 'content-type': 'text/plain' } }],
    ['POST', '/video/v1/spaces', { rawBody: '{"passthrough":"x"}', headers: { 'content-type': 'application/json; charset=latin1' } }],
    ['POST', '/video/v1/spaces', { rawBody: '{"passthrough":"x"}', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } }],
    ['GET', '/video/v1/spaces?limit=%FF', {}],
    ['GET', '/video/v1/spaces?limit=1&limit=2', {}],
    ['GET', `/video/v1/spaces?${'a=1&'.repeat(2000)}`, {}],
  ];
  for (const [method, path, opts] of cases) {
    const res = await oriel.api(method, path, { token: tok, ...opts });
    const what = `${method} ${path.slice(0, 60)} ${JSON.stringify(opts.headers || {})}: ${describe(res)}`;
    assert.ok(res.status < 500, `no 5xx for client input: ${what}`);
    if (res.status >= 400) {
      try {
        assertErrorEnvelope(res);
      } catch (e) {
        e.message = `${what}\n${e.message}`;
        throw e;
      }
    } else {
      assert.ok(res.status >= 200 && res.status < 300, what);
    }
  }
});

// A 2 MB body is refused from its Content-Length, before the server asks for it (see
// requestExpectContinue: refusing after reading part of it races with a TCP reset).
async function expectTooLarge(path) {
  const res = await requestExpectContinue(oriel.baseUrl, 'POST', path, {
    token: tok,
    contentLength: 2 * 1024 * 1024,
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(
    res.continued,
    false,
    `POST ${path} with Content-Length 2 MB: the server answered "100 Continue", asking for a body it will refuse; ` +
      'it should answer 413 from the Content-Length header before reading',
  );
  assert.ok(res.status === 413 || res.status === 400, `POST ${path}: ${describe(res)}`);
  assertErrorEnvelope(res);
}

test('a 2 MB body gets 413 or 400 in the envelope (POST /video/v1/spaces)', async () => {
  await expectTooLarge('/video/v1/spaces');
});

test('POST /system/v1/signing-keys refuses a 2 MB body and malformed JSON instead of ignoring its body', async () => {
  await expectTooLarge('/system/v1/signing-keys');
  const malformed = await oriel.api('POST', '/system/v1/signing-keys', {
    token: tok,
    rawBody: '{"oops": ',
    headers: { 'content-type': 'application/json' },
  });
  assertErrorEnvelope(malformed, 400, 'invalid_parameters');
});

test('the server keeps serving after all the bad input', async () => {
  const h = await oriel.api('GET', '/healthz');
  assert.equal(h.status, 200);
  const s = dataOf(await oriel.api('POST', '/video/v1/spaces', { token: tok, body: { passthrough: 'still here' } }), 201);
  assert.deepEqual(dataOf(await oriel.api('GET', `/video/v1/spaces/${s.id}`, { token: tok })), s);
  const conn = await oriel.expectJoined(joinToken(s.id, key));
  await conn.close();
});

// ----------------------------------------------------------------------------------------------
// 429

test('the default rate limit is generous: 150 quick requests of one token are all served', async () => {
  let limited = 0;
  for (let batch = 0; batch < 5; batch++) {
    const results = await Promise.all(
      Array.from({ length: 30 }, () => oriel.api('GET', '/video/v1/spaces?limit=1', { token: tok })),
    );
    for (const r of results) {
      if (r.status === 429) limited++;
      else assert.equal(r.status, 200, describe(r));
    }
  }
  assert.equal(limited, 0, 'no 429 under the default limit (at least 100 requests per second per token)');
});

test('429 too_many_requests with Retry-After past --api-rate-limit, per token', async () => {
  const limited = await startOriel({ name: 'rate-limited', extraArgs: ['--api-rate-limit', '5', '--api-rate-burst', '5'] });
  try {
    const a = await limited.createAccessToken('rate-a');
    const b = await limited.createAccessToken('rate-b');
    const results = await Promise.all(
      Array.from({ length: 30 }, () => limited.api('GET', '/video/v1/spaces', { token: a })),
    );
    const ok = results.filter((r) => r.status === 200);
    const tooMany = results.filter((r) => r.status === 429);
    const other = results.filter((r) => r.status !== 200 && r.status !== 429);
    assert.equal(other.length, 0, `only 200 or 429: ${other.map(describe).join('\n')}`);
    assert.ok(tooMany.length >= 1, `some of 30 quick requests must be limited (got ${ok.length} x 200)`);
    assert.ok(ok.length >= 5, `the burst of 5 is served (got ${ok.length} x 200)`);
    assert.ok(ok.length <= 15, `30 requests at 5/s with a burst of 5 cannot all pass (got ${ok.length} x 200)`);
    for (const r of tooMany) {
      assertErrorEnvelope(r, 429, 'too_many_requests');
      const ra = r.headers.get('retry-after');
      assert.ok(ra, 'Retry-After header');
      assert.match(ra, /^\d+$/, `Retry-After is delay-seconds: ${ra}`);
      assert.ok(Number(ra) >= 1, `Retry-After at least 1 second: ${ra}`);
    }
    // another token is not limited at that moment
    const other2 = await limited.api('GET', '/video/v1/spaces', { token: b });
    assert.equal(other2.status, 200, `a second token has its own budget: ${describe(other2)}`);
    // and the first token recovers
    await sleep(1500);
    const again = await limited.api('GET', '/video/v1/spaces', { token: a });
    assert.equal(again.status, 200, `the token recovers after a pause: ${describe(again)}`);
    await limited.stop();
  } finally {
    await limited.kill();
    limited.cleanup();
  }
});

test('SIGTERM stops the server gracefully (exit code 0)', async () => {
  await oriel.stop();
});
