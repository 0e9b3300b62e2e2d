// The official @mux/mux-node 7.3.5 SDK, unchanged, pointed at Oriel with its `baseUrl` option;
// then join tokens from its Mux.JWT.signSpaceId and hand-made tokens that break one rule each.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import Mux from '@mux/mux-node';
import {
  installFailureLogs,
  startOriel,
  assertSpace,
  assertSigningKey,
  signRS256,
  signHS256,
  claims,
  joinToken,
  b64url,
  nowSeconds,
  privatePem,
  dataOf,
} from '../lib/oriel.mjs';

installFailureLogs();

let oriel;
let tokA; // access token of environment A
let tokB; // access token of environment B
let muxA; // the SDK client of environment A
let muxB;

// shared state filled by the tests below, in order
let keyA; // signing key of A, with private_key (from create)
let spaceA; // a space of A
let spaceB; // a space of B
let keyB; // signing key of B, with private_key
let deletedKeyA; // a key of A that was deleted, with its private_key

/** What the SDK throws for an API error: the `error` object of the envelope. */
async function expectSdkError(promise, type) {
  let thrown;
  try {
    await promise;
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown, `expected the SDK call to fail with ${type}`);
  assert.equal(thrown.type, type, `SDK error: ${JSON.stringify(thrown?.response?.data ?? thrown)}`);
  assert.ok(Array.isArray(thrown.messages) && thrown.messages.length > 0, 'error.messages');
}

before(async () => {
  oriel = await startOriel({ name: 'mux-node' });
  tokA = await oriel.createAccessToken('mux-node-a');
  tokB = await oriel.createAccessToken('mux-node-b');
  muxA = new Mux(tokA.id, tokA.secret, { baseUrl: oriel.baseUrl });
  muxB = new Mux(tokB.id, tokB.secret, { baseUrl: oriel.baseUrl });
});

after(async () => {
  await oriel.kill();
  oriel.cleanup();
});

test('SDK: Video.SigningKeys.create returns id, created_at and a base64 PEM 2048-bit RSA private key', async () => {
  keyA = await muxA.Video.SigningKeys.create();
  assertSigningKey(keyA, { withPrivateKey: true });
  keyB = await muxB.Video.SigningKeys.create();
  assertSigningKey(keyB, { withPrivateKey: true });
  assert.notEqual(keyA.id, keyB.id);
});

test('SDK: Video.SigningKeys.get and list return the key without private_key', async () => {
  const got = await muxA.Video.SigningKeys.get(keyA.id);
  assertSigningKey(got);
  assert.deepEqual(got, { id: keyA.id, created_at: keyA.created_at });
  const list = await muxA.Video.SigningKeys.list();
  assert.ok(Array.isArray(list), 'list returns the data array');
  const found = list.find((k) => k.id === keyA.id);
  assert.ok(found, 'the created key is listed');
  assertSigningKey(found);
  assert.ok(!list.some((k) => k.id === keyB.id), "another environment's key is not listed");
  const paged = await muxA.Video.SigningKeys.list({ limit: 1, page: 1 });
  assert.equal(paged.length, 1);
});

test('SDK: Video.SigningKeys.del deletes (204), then get throws not_found', async () => {
  const k = await muxA.Video.SigningKeys.create();
  assertSigningKey(k, { withPrivateKey: true });
  const res = await muxA.Video.SigningKeys.del(k.id);
  assert.ok(res === '' || res === undefined || res === null, `delete returns no body, got ${JSON.stringify(res)}`);
  await expectSdkError(muxA.Video.SigningKeys.get(k.id), 'not_found');
  await expectSdkError(muxA.Video.SigningKeys.del(k.id), 'not_found');
  const list = await muxA.Video.SigningKeys.list();
  assert.ok(!list.some((x) => x.id === k.id), 'a deleted key is not listed');
  deletedKeyA = k;
});

test('SDK: Video.Spaces.create with passthrough returns an idle server space', async () => {
  spaceA = await muxA.Video.Spaces.create({ passthrough: 'mux-node sdk space' });
  assertSpace(spaceA, { passthrough: 'mux-node sdk space' });
  const plain = await muxA.Video.Spaces.create({ type: 'server' });
  assertSpace(plain);
  spaceB = await muxB.Video.Spaces.create({ passthrough: 'space of B' });
  assertSpace(spaceB, { passthrough: 'space of B' });
});

test('SDK: Video.Spaces.create() without a request body makes a default space', async () => {
  const empty = await muxA.Video.Spaces.create();
  assertSpace(empty);
});

test('SDK: Video.Spaces.get and list return the same object', async () => {
  const got = await muxA.Video.Spaces.get(spaceA.id);
  assert.deepEqual(got, spaceA);
  const list = await muxA.Video.Spaces.list();
  assert.ok(Array.isArray(list));
  assert.deepEqual(
    list.find((s) => s.id === spaceA.id),
    spaceA,
  );
  assert.ok(!list.some((s) => s.id === spaceB.id), "another environment's space is not listed");
  const paged = await muxA.Video.Spaces.list({ limit: 2, page: 1 });
  assert.equal(paged.length, 2);
  const past = await muxA.Video.Spaces.list({ limit: 25, page: 9 });
  assert.deepEqual(past, []);
});

test('SDK: Video.Spaces.delete deletes, then get and delete throw not_found', async () => {
  const s = await muxA.Video.Spaces.create({ passthrough: 'to delete' });
  const res = await muxA.Video.Spaces.delete(s.id);
  assert.ok(res === '' || res === undefined || res === null, `delete returns no body, got ${JSON.stringify(res)}`);
  await expectSdkError(muxA.Video.Spaces.get(s.id), 'not_found');
  await expectSdkError(muxA.Video.Spaces.delete(s.id), 'not_found');
  const list = await muxA.Video.Spaces.list({ limit: 100 });
  assert.ok(!list.some((x) => x.id === s.id));
});

test('SDK: another environment sees not_found for these objects', async () => {
  await expectSdkError(muxB.Video.Spaces.get(spaceA.id), 'not_found');
  await expectSdkError(muxB.Video.SigningKeys.get(keyA.id), 'not_found');
  await expectSdkError(muxB.Video.Spaces.delete(spaceA.id), 'not_found');
  await expectSdkError(muxB.Video.SigningKeys.del(keyA.id), 'not_found');
  // still there for A
  assert.deepEqual(await muxA.Video.Spaces.get(spaceA.id), spaceA);
});

test('SDK: a wrong secret makes the SDK throw unauthorized', async () => {
  const bad = new Mux(tokA.id, tokA.secret + 'x', { baseUrl: oriel.baseUrl });
  await expectSdkError(bad.Video.Spaces.list(), 'unauthorized');
});

test('keys made on /video/v1/signing-keys are the same keys as /system/v1/signing-keys', async () => {
  const res = await oriel.api('GET', `/system/v1/signing-keys/${keyA.id}`, { token: tokA });
  assert.deepEqual(dataOf(res), { id: keyA.id, created_at: keyA.created_at });
});

// ----------------------------------------------------------------------------------------------
// join tokens

test('Mux.JWT.signSpaceId token (kid in header) is accepted: the socket gets "joined"', async () => {
  const jwt = Mux.JWT.signSpaceId(spaceA.id, { keyId: keyA.id, keySecret: keyA.private_key });
  const [h, p] = jwt.split('.').map((x, i) => (i < 2 ? JSON.parse(Buffer.from(x, 'base64url')) : x));
  assert.equal(h.kid, keyA.id, 'signSpaceId puts kid in the header');
  assert.equal(h.alg, 'RS256');
  assert.equal(p.aud, 'rt');
  assert.equal(p.sub, spaceA.id);
  const conn = await oriel.expectJoined(jwt);
  await conn.close();
});

test('Mux.JWT.signSpaceId with params role=subscriber and participant_id is accepted', async () => {
  const jwt = Mux.JWT.signSpaceId(spaceA.id, {
    keyId: keyA.id,
    keySecret: keyA.private_key,
    expiration: '1h',
    params: { role: 'subscriber', participant_id: 'viewer-1' },
  });
  const conn = await oriel.expectJoined(jwt);
  assert.equal(conn.joined.participant_id, 'viewer-1', 'joined.participant_id comes from the JWT');
  await conn.close();
});

test('Mux.JWT.signSpaceId with the PEM text as keySecret is accepted too', async () => {
  const jwt = Mux.JWT.signSpaceId(spaceA.id, { keyId: keyA.id, keySecret: privatePem(keyA) });
  const conn = await oriel.expectJoined(jwt);
  await conn.close();
});

test('kid only in the payload (jose style, header {"alg":"RS256"}) is accepted', async () => {
  const jwt = signRS256({ alg: 'RS256' }, claims(spaceA.id, { kid: keyA.id, role: 'publisher' }), keyA);
  const conn = await oriel.expectJoined(jwt);
  await conn.close();
});

test('kid only in the header, with iat and participant_id (MEET style) is accepted', async () => {
  const jwt = signRS256(
    { alg: 'RS256', typ: 'JWT', kid: keyA.id },
    claims(spaceA.id, { iat: nowSeconds(), participant_id: 'alice' }),
    keyA,
  );
  const conn = await oriel.expectJoined(jwt);
  assert.equal(conn.joined.participant_id, 'alice');
  await conn.close();
});

test('a token that expired a minute ago is refused', async () => {
  const jwt = joinToken(spaceA.id, keyA, { exp: nowSeconds() - 60 });
  await oriel.expectRefused(jwt);
});

test('Mux.JWT.signSpaceId with a negative expiration (already expired) is refused', async () => {
  const jwt = Mux.JWT.signSpaceId(spaceA.id, { keyId: keyA.id, keySecret: keyA.private_key, expiration: '-1h' });
  await oriel.expectRefused(jwt);
});

test('a token without exp is refused', async () => {
  const c = claims(spaceA.id);
  delete c.exp;
  await oriel.expectRefused(signRS256({ alg: 'RS256', kid: keyA.id }, c, keyA));
});

test('a token with a non-numeric exp is refused', async () => {
  await oriel.expectRefused(joinToken(spaceA.id, keyA, { exp: 'tomorrow' }));
});

test('a token with a wrong aud ("v", the playback audience) is refused', async () => {
  await oriel.expectRefused(joinToken(spaceA.id, keyA, { aud: 'v' }));
});

test('a token without aud is refused', async () => {
  const c = claims(spaceA.id);
  delete c.aud;
  await oriel.expectRefused(signRS256({ alg: 'RS256', kid: keyA.id }, c, keyA));
});

test('alg "none" (no signature) is refused', async () => {
  const jwt = `${b64url({ alg: 'none', typ: 'JWT', kid: keyA.id })}.${b64url(claims(spaceA.id))}.`;
  await oriel.expectRefused(jwt);
});

test('alg "none" with the kid in the payload is refused', async () => {
  const jwt = `${b64url({ alg: 'none' })}.${b64url(claims(spaceA.id, { kid: keyA.id }))}.`;
  await oriel.expectRefused(jwt);
});

test('HS256 signed with the public key (algorithm confusion) is refused', async () => {
  const pub = crypto.createPublicKey(privatePem(keyA));
  const spki = pub.export({ type: 'spki', format: 'pem' });
  const pkcs1 = pub.export({ type: 'pkcs1', format: 'pem' });
  await oriel.expectRefused(signHS256({ alg: 'HS256', typ: 'JWT', kid: keyA.id }, claims(spaceA.id), spki));
  await oriel.expectRefused(signHS256({ alg: 'HS256', typ: 'JWT', kid: keyA.id }, claims(spaceA.id), pkcs1));
  const der = pub.export({ type: 'spki', format: 'der' });
  await oriel.expectRefused(signHS256({ alg: 'HS256', typ: 'JWT', kid: keyA.id }, claims(spaceA.id), der));
});

test('an unknown kid is refused', async () => {
  await oriel.expectRefused(
    signRS256({ alg: 'RS256', kid: 'NoSuchKeyId00000000000000000000000000000000' }, claims(spaceA.id), keyA),
  );
});

test('a token without any kid is refused', async () => {
  await oriel.expectRefused(signRS256({ alg: 'RS256', typ: 'JWT' }, claims(spaceA.id), keyA));
});

test('a token of a deleted signing key is refused', async () => {
  await oriel.expectRefused(joinToken(spaceA.id, deletedKeyA));
  await oriel.expectRefused(
    Mux.JWT.signSpaceId(spaceA.id, { keyId: deletedKeyA.id, keySecret: deletedKeyA.private_key }),
  );
});

test("kid of a live key but signed by another key (a deleted key of the same environment) is refused", async () => {
  await oriel.expectRefused(signRS256({ alg: 'RS256', kid: keyA.id }, claims(spaceA.id), deletedKeyA));
});

test("kid of a live key but signed by another environment's key is refused", async () => {
  await oriel.expectRefused(signRS256({ alg: 'RS256', kid: keyA.id }, claims(spaceA.id), keyB));
});

test("another environment's key (its own kid) for this environment's space is refused", async () => {
  await oriel.expectRefused(joinToken(spaceA.id, keyB));
  await oriel.expectRefused(Mux.JWT.signSpaceId(spaceA.id, { keyId: keyB.id, keySecret: keyB.private_key }));
});

test('a tampered payload (valid signature of another payload) is refused', async () => {
  const good = joinToken(spaceA.id, keyA, { role: 'subscriber' });
  const [h, , s] = good.split('.');
  const tampered = `${h}.${b64url(claims(spaceA.id, { role: 'publisher' }))}.${s}`;
  await oriel.expectRefused(tampered);
  // flip one bit of the signature of an otherwise valid token
  const sig = Buffer.from(s, 'base64url');
  sig[10] ^= 1;
  await oriel.expectRefused(`${good.split('.')[0]}.${good.split('.')[1]}.${sig.toString('base64url')}`);
});

test("sub of a space in another environment (signed by this environment's key) is refused", async () => {
  await oriel.expectRefused(joinToken(spaceB.id, keyA));
  await oriel.expectRefused(Mux.JWT.signSpaceId(spaceB.id, { keyId: keyA.id, keySecret: keyA.private_key }));
});

test('sub of a nonexistent space is refused', async () => {
  await oriel.expectRefused(joinToken('NoSuchSpace000000000000000000000000', keyA));
});

test('sub of a deleted space is refused', async () => {
  const s = await muxA.Video.Spaces.create({ passthrough: 'deleted before join' });
  await muxA.Video.Spaces.delete(s.id);
  await oriel.expectRefused(joinToken(s.id, keyA));
});

test('role "admin" is refused', async () => {
  await oriel.expectRefused(joinToken(spaceA.id, keyA, { role: 'admin' }));
});

test('a token that is not a JWT at all is refused', async () => {
  await oriel.expectRefused('not-a-jwt');
  await oriel.expectRefused('a.b.c');
});

test('a valid token still joins after all the refusals (the verifier is not stuck)', async () => {
  const jwt = Mux.JWT.signSpaceId(spaceA.id, { keyId: keyA.id, keySecret: keyA.private_key });
  const conn = await oriel.expectJoined(jwt);
  await conn.close();
});

test('SIGTERM stops the server gracefully (exit code 0)', async () => {
  await oriel.stop();
});
