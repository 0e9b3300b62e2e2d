// Two environments on one node: a token sees and changes only its own environment's objects.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Mux from '@mux/mux-node';
import {
  installFailureLogs,
  startOriel,
  assertErrorEnvelope,
  dataOf,
  describe,
  joinToken,
  claims,
  signRS256,
} from '../lib/oriel.mjs';

installFailureLogs();

let oriel;
let tokA;
let tokA2; // a second token of environment A
let tokB;
const a = { spaces: [], keys: [] };
const b = { spaces: [], keys: [] };

before(async () => {
  oriel = await startOriel({ name: 'isolation' });
  tokA = await oriel.createAccessToken('env-a');
  tokB = await oriel.createAccessToken('env-b');
  tokA2 = await oriel.createAccessToken('env-a');
  for (const [tok, into, tag] of [
    [tokA, a, 'A'],
    [tokB, b, 'B'],
  ]) {
    for (let i = 0; i < 3; i++) {
      into.spaces.push(
        dataOf(await oriel.api('POST', '/video/v1/spaces', { token: tok, body: { passthrough: `${tag}${i}` } }), 201),
      );
    }
    into.keys.push(dataOf(await oriel.api('POST', '/system/v1/signing-keys', { token: tok }), 201));
    into.keys.push(dataOf(await oriel.api('POST', '/video/v1/signing-keys', { token: tok }), 201));
  }
});

after(async () => {
  await oriel.kill();
  oriel.cleanup();
});

test('access-token create makes distinct environments, and reuses an existing one by name', () => {
  assert.notEqual(tokA.environment.id, tokB.environment.id);
  assert.equal(tokA2.environment.id, tokA.environment.id, 'same name, same environment');
  assert.equal(tokA2.environment.name, 'env-a');
  assert.notEqual(tokA2.id, tokA.id, 'a new token each time');
  assert.notEqual(tokA2.secret, tokA.secret);
});

test("environment B gets 404 for A's spaces (GET and DELETE)", async () => {
  for (const s of a.spaces) {
    assertErrorEnvelope(await oriel.api('GET', `/video/v1/spaces/${s.id}`, { token: tokB }), 404, 'not_found');
    assertErrorEnvelope(await oriel.api('DELETE', `/video/v1/spaces/${s.id}`, { token: tokB }), 404, 'not_found');
  }
  // and the reverse
  for (const s of b.spaces) {
    assertErrorEnvelope(await oriel.api('GET', `/video/v1/spaces/${s.id}`, { token: tokA }), 404, 'not_found');
  }
});

test("environment B gets 404 for A's signing keys (GET and DELETE, both paths)", async () => {
  for (const k of a.keys) {
    for (const base of ['/system/v1/signing-keys', '/video/v1/signing-keys']) {
      assertErrorEnvelope(await oriel.api('GET', `${base}/${k.id}`, { token: tokB }), 404, 'not_found');
      assertErrorEnvelope(await oriel.api('DELETE', `${base}/${k.id}`, { token: tokB }), 404, 'not_found');
    }
  }
});

test("A's objects are untouched by B's DELETEs", async () => {
  for (const s of a.spaces) {
    assert.deepEqual(dataOf(await oriel.api('GET', `/video/v1/spaces/${s.id}`, { token: tokA })), s);
  }
  for (const k of a.keys) {
    assert.deepEqual(dataOf(await oriel.api('GET', `/system/v1/signing-keys/${k.id}`, { token: tokA })), {
      id: k.id,
      created_at: k.created_at,
    });
  }
});

test("lists of B hold exactly B's objects; lists of A exactly A's", async () => {
  for (const [tok, mine] of [
    [tokA, a],
    [tokB, b],
  ]) {
    const spaces = dataOf(await oriel.api('GET', '/video/v1/spaces?limit=100', { token: tok }));
    assert.deepEqual(
      spaces.map((s) => s.id).sort(),
      mine.spaces.map((s) => s.id).sort(),
    );
    for (const base of ['/system/v1/signing-keys', '/video/v1/signing-keys']) {
      const keys = dataOf(await oriel.api('GET', `${base}?limit=100`, { token: tok }));
      assert.deepEqual(
        keys.map((k) => k.id).sort(),
        mine.keys.map((k) => k.id).sort(),
        base,
      );
    }
  }
});

test('two tokens of the same environment see the same objects', async () => {
  const viaA2 = dataOf(await oriel.api('GET', '/video/v1/spaces?limit=100', { token: tokA2 }));
  const viaA = dataOf(await oriel.api('GET', '/video/v1/spaces?limit=100', { token: tokA }));
  assert.deepEqual(viaA2, viaA);
  const s = dataOf(await oriel.api('POST', '/video/v1/spaces', { token: tokA2, body: { passthrough: 'by A2' } }), 201);
  assert.deepEqual(dataOf(await oriel.api('GET', `/video/v1/spaces/${s.id}`, { token: tokA })), s);
  assert.equal((await oriel.api('DELETE', `/video/v1/spaces/${s.id}`, { token: tokA })).status, 204);
});

test("a token of A with B's secret (or the reverse) is unauthorized", async () => {
  const mixed = { id: tokA.id, secret: tokB.secret };
  assertErrorEnvelope(await oriel.api('GET', '/video/v1/spaces', { token: mixed }), 401, 'unauthorized');
});

test("a join token signed by B's key for A's space is refused", async () => {
  await oriel.expectRefused(joinToken(a.spaces[0].id, b.keys[0]));
  await oriel.expectRefused(signRS256({ alg: 'RS256' }, claims(a.spaces[0].id, { kid: b.keys[1].id }), b.keys[1]));
  await oriel.expectRefused(Mux.JWT.signSpaceId(a.spaces[1].id, { keyId: b.keys[1].id, keySecret: b.keys[1].private_key }));
});

test("a join token signed by A's key for A's space is accepted, and for B's space refused", async () => {
  const conn = await oriel.expectJoined(joinToken(a.spaces[0].id, a.keys[0]));
  await conn.close();
  await oriel.expectRefused(joinToken(b.spaces[0].id, a.keys[0]));
});

test("B cannot see that A's space is active, and cannot delete it", async () => {
  const conn = await oriel.expectJoined(joinToken(a.spaces[2].id, a.keys[1]));
  try {
    const res = await oriel.api('GET', `/video/v1/spaces/${a.spaces[2].id}`, { token: tokB });
    assertErrorEnvelope(res, 404, 'not_found');
    const del = await oriel.api('DELETE', `/video/v1/spaces/${a.spaces[2].id}`, { token: tokB });
    assert.equal(del.status, 404, `B gets 404, not 412, for A's active space: ${describe(del)}`);
  } finally {
    await conn.close();
  }
});

test('SIGTERM stops the server gracefully (exit code 0)', async () => {
  await oriel.stop();
});
