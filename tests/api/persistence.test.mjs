// Everything survives a restart on the same data dir; access tokens made by the CLI while the
// server runs work at once; pagination of spaces and signing keys.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import Mux from '@mux/mux-node';
import {
  installFailureLogs,
  startOriel,
  assertErrorEnvelope,
  dataOf,
  describe,
  joinToken,
  privatePem,
  sleep,
  unrefSleep,
} from '../lib/oriel.mjs';

installFailureLogs();

let oriel;
let tok;
let pagingTok;
const spaces = [];
const keys = []; // with private_key
let deletedSpace;
let deletedKey;
let jwtBeforeRestart;
let snapshot; // JSON seen before the restart
const pagingSpaces = []; // in creation order
const pagingKeys = [];

before(async () => {
  oriel = await startOriel({ name: 'persistence' });
  tok = await oriel.createAccessToken('persist');
});

after(async () => {
  await oriel.kill();
  oriel.cleanup();
});

async function takeSnapshot(token) {
  const snap = { spaces: {}, keys: {}, lists: {} };
  for (const s of spaces) snap.spaces[s.id] = (await oriel.api('GET', `/video/v1/spaces/${s.id}`, { token })).json;
  for (const k of keys) {
    snap.keys[k.id] = (await oriel.api('GET', `/system/v1/signing-keys/${k.id}`, { token })).json;
  }
  for (const p of ['/video/v1/spaces?limit=100', '/system/v1/signing-keys?limit=100', '/video/v1/signing-keys?limit=100']) {
    snap.lists[p] = (await oriel.api('GET', p, { token })).json;
  }
  return snap;
}

test('create signing keys and spaces (and delete one of each)', async () => {
  for (let i = 0; i < 3; i++) {
    keys.push(dataOf(await oriel.api('POST', '/system/v1/signing-keys', { token: tok }), 201));
  }
  for (let i = 0; i < 4; i++) {
    const body = i === 0 ? {} : { passthrough: `persist-${i}` };
    spaces.push(dataOf(await oriel.api('POST', '/video/v1/spaces', { token: tok, body }), 201));
  }
  deletedSpace = spaces.pop();
  deletedKey = keys.pop();
  assert.equal((await oriel.api('DELETE', `/video/v1/spaces/${deletedSpace.id}`, { token: tok })).status, 204);
  assert.equal((await oriel.api('DELETE', `/system/v1/signing-keys/${deletedKey.id}`, { token: tok })).status, 204);
  jwtBeforeRestart = Mux.JWT.signSpaceId(spaces[1].id, { keyId: keys[0].id, keySecret: keys[0].private_key });
  const conn = await oriel.expectJoined(jwtBeforeRestart);
  await conn.close();
  snapshot = await takeSnapshot(tok);
  for (const v of Object.values(snapshot.spaces)) assert.ok(v?.data, 'space readable');
  for (const v of Object.values(snapshot.keys)) assert.ok(v?.data, 'key readable');
});

test('no secret is stored in clear: neither access-token secrets nor signing private keys', async () => {
  // wait for SQLite to have written (WAL) what it was given
  await sleep(200);
  const needles = [tok.secret];
  for (const k of keys) {
    needles.push(k.private_key);
    // the first full base64 line of the PEM body, as it would appear if the PEM were stored
    const pemLines = privatePem(k).split('\n').filter((l) => l && !l.startsWith('-----'));
    needles.push(pemLines[1]);
  }
  const files = [];
  (function walk(dir) {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) files.push(p);
    }
  })(oriel.dataDir);
  assert.ok(files.length > 0, 'the data dir holds the store');
  for (const f of files) {
    const content = fs.readFileSync(f).toString('latin1');
    for (const n of needles) {
      assert.ok(!content.includes(n), `${path.relative(oriel.dataDir, f)} contains a secret in clear (${n.slice(0, 12)}...)`);
    }
  }
});

// ----------------------------------------------------------------------------------------------
// pagination (environment "paging": only the objects made here)

test('pagination setup: 30 spaces and 12 signing keys in a fresh environment', async () => {
  pagingTok = await oriel.createAccessToken('paging');
  for (let i = 0; i < 30; i++) {
    pagingSpaces.push(
      dataOf(await oriel.api('POST', '/video/v1/spaces', { token: pagingTok, body: { passthrough: `page-${i}` } }), 201),
    );
  }
  for (let i = 0; i < 12; i++) {
    pagingKeys.push(dataOf(await oriel.api('POST', '/system/v1/signing-keys', { token: pagingTok }), 201));
  }
});

async function list(p) {
  return dataOf(await oriel.api('GET', p, { token: pagingTok }));
}

test('spaces: default page is 25, newest first', async () => {
  const newestFirst = pagingSpaces.map((s) => s.id).reverse();
  const page = await list('/video/v1/spaces');
  assert.equal(page.length, 25);
  assert.deepEqual(
    page.map((s) => s.id),
    newestFirst.slice(0, 25),
  );
  for (let i = 1; i < page.length; i++) {
    assert.ok(Number(page[i - 1].created_at) >= Number(page[i].created_at), 'created_at never increases');
  }
  const page2 = await list('/video/v1/spaces?page=2');
  assert.deepEqual(
    page2.map((s) => s.id),
    newestFirst.slice(25),
  );
});

test('spaces: limit=10 pages do not overlap and hold all 30, newest first', async () => {
  const newestFirst = pagingSpaces.map((s) => s.id).reverse();
  const p1 = await list('/video/v1/spaces?limit=10&page=1');
  const p2 = await list('/video/v1/spaces?limit=10&page=2');
  const p3 = await list('/video/v1/spaces?page=3&limit=10');
  for (const p of [p1, p2, p3]) assert.equal(p.length, 10);
  const all = [...p1, ...p2, ...p3].map((s) => s.id);
  assert.equal(new Set(all).size, 30, 'no overlap');
  assert.deepEqual(all, newestFirst);
  // the objects in lists are the same as from GET
  const byId = new Map(pagingSpaces.map((s) => [s.id, s]));
  for (const s of [...p1, ...p2, ...p3]) assert.deepEqual(s, byId.get(s.id));
});

test('spaces: a page past the end is {"data": []} with 200', async () => {
  for (const q of ['limit=10&page=4', 'limit=25&page=3', 'limit=100&page=2', 'page=999999']) {
    const res = await oriel.api('GET', `/video/v1/spaces?${q}`, { token: pagingTok });
    assert.equal(res.status, 200, describe(res));
    assert.deepEqual(res.json, { data: [] }, q);
  }
});

test('spaces: limit=100 returns all 30', async () => {
  const all = await list('/video/v1/spaces?limit=100');
  assert.equal(all.length, 30);
  assert.deepEqual(
    all.map((s) => s.id),
    pagingSpaces.map((s) => s.id).reverse(),
  );
});

test('signing keys: limit=5 pages hold all 12 newest first, past the end is empty, no private_key', async () => {
  for (const base of ['/system/v1/signing-keys', '/video/v1/signing-keys']) {
    const pages = [];
    for (let p = 1; p <= 3; p++) pages.push(await list(`${base}?limit=5&page=${p}`));
    assert.deepEqual(
      pages.map((p) => p.length),
      [5, 5, 2],
    );
    const all = pages.flat();
    assert.deepEqual(
      all.map((k) => k.id),
      pagingKeys.map((k) => k.id).reverse(),
    );
    for (const k of all) assert.deepEqual(Object.keys(k).sort(), ['created_at', 'id']);
    const res = await oriel.api('GET', `${base}?limit=5&page=4`, { token: pagingTok });
    assert.deepEqual(res.json, { data: [] });
    assert.equal((await list(base)).length, 12, 'default limit 25 holds all 12');
  }
});

// ----------------------------------------------------------------------------------------------
// restart

test('restart: graceful stop (exit 0) and start on the same data dir', async () => {
  await oriel.restart();
});

test('after a restart every object reads back as the same JSON', async () => {
  const after = await takeSnapshot(tok);
  assert.deepEqual(after, snapshot);
});

test('after a restart deleted objects stay deleted', async () => {
  assertErrorEnvelope(await oriel.api('GET', `/video/v1/spaces/${deletedSpace.id}`, { token: tok }), 404, 'not_found');
  assertErrorEnvelope(
    await oriel.api('GET', `/system/v1/signing-keys/${deletedKey.id}`, { token: tok }),
    404,
    'not_found',
  );
  await oriel.expectRefused(joinToken(spaces[0].id, deletedKey));
});

test('after a restart the pagination order is the same', async () => {
  const all = await list('/video/v1/spaces?limit=100');
  assert.deepEqual(
    all.map((s) => s.id),
    pagingSpaces.map((s) => s.id).reverse(),
  );
  const keysAll = await list('/system/v1/signing-keys');
  assert.deepEqual(
    keysAll.map((k) => k.id),
    pagingKeys.map((k) => k.id).reverse(),
  );
});

test('after a restart the access tokens still authenticate, and wrong secrets still do not', async () => {
  assert.equal((await oriel.api('GET', '/video/v1/spaces', { token: tok })).status, 200);
  assert.equal((await oriel.api('GET', '/video/v1/spaces', { token: pagingTok })).status, 200);
  assertErrorEnvelope(
    await oriel.api('GET', '/video/v1/spaces', { token: { id: tok.id, secret: tok.secret + 'x' } }),
    401,
    'unauthorized',
  );
});

test('after a restart a key made before it still verifies join tokens (old and new)', async () => {
  const c1 = await oriel.expectJoined(jwtBeforeRestart);
  await c1.close();
  const fresh = Mux.JWT.signSpaceId(spaces[2].id, { keyId: keys[1].id, keySecret: keys[1].private_key });
  const c2 = await oriel.expectJoined(fresh);
  await c2.close();
});

test('after a restart new objects can be created and listed first', async () => {
  const s = dataOf(await oriel.api('POST', '/video/v1/spaces', { token: tok, body: { passthrough: 'after restart' } }), 201);
  const listed = dataOf(await oriel.api('GET', '/video/v1/spaces', { token: tok }));
  assert.equal(listed[0].id, s.id, 'the newest space is listed first');
  spaces.push(s);
});

test('access-token create while the server runs: the new token authenticates at once', async () => {
  const fresh = await oriel.createAccessToken('persist');
  assert.equal(fresh.environment.id, tok.environment.id);
  const res = await oriel.api('GET', '/video/v1/spaces?limit=100', { token: fresh });
  assert.equal(res.status, 200, describe(res));
  assert.deepEqual(
    dataOf(res).map((s) => s.id).sort(),
    spaces.map((s) => s.id).sort(),
  );
  // a brand-new environment too
  const other = await oriel.createAccessToken('made-while-running');
  const res2 = await oriel.api('GET', '/video/v1/spaces', { token: other });
  assert.deepEqual(res2.json, { data: [] }, describe(res2));
  const s = dataOf(await oriel.api('POST', '/video/v1/spaces', { token: other, body: {} }), 201);
  assert.equal((await oriel.api('GET', `/video/v1/spaces/${s.id}`, { token: tok })).status, 404);
});

test('access-token create runs concurrently with API writes (SQLite shared by CLI and server)', async () => {
  const writes = Promise.all(
    Array.from({ length: 40 }, (_, i) =>
      oriel.api('POST', '/video/v1/spaces', { token: tok, body: { passthrough: `concurrent-${i}` } }),
    ),
  );
  const tokens = await Promise.all(Array.from({ length: 4 }, (_, i) => oriel.createAccessToken(`concurrent-${i % 2}`)));
  const results = await writes;
  for (const r of results) assert.equal(r.status, 201, describe(r));
  for (const t of tokens) {
    const res = await oriel.api('GET', '/video/v1/spaces', { token: t });
    assert.equal(res.status, 200, describe(res));
  }
  assert.equal(tokens[0].environment.id, tokens[2].environment.id, 'same name, same environment');
  for (const r of results) {
    const id = r.json.data.id;
    assert.equal((await oriel.api('DELETE', `/video/v1/spaces/${id}`, { token: tok })).status, 204);
  }
});

test('a restart while a participant is connected: exit 0, and the space is idle afterwards', async () => {
  const conn = await oriel.expectJoined(joinToken(spaces[1].id, keys[0]));
  const active = dataOf(await oriel.api('GET', `/video/v1/spaces/${spaces[1].id}`, { token: tok }));
  assert.equal(active.status, 'active');
  await oriel.restart();
  const closed = await Promise.race([conn.closed.catch((e) => ({ error: e.message })), unrefSleep(2000).then(() => 'open')]);
  assert.notEqual(closed, 'open', 'the socket was closed by the shutdown');
  const idle = dataOf(await oriel.api('GET', `/video/v1/spaces/${spaces[1].id}`, { token: tok }));
  assert.equal(idle.status, 'idle', `a space has no participants after a restart: ${JSON.stringify(idle)}`);
  assert.ok(!('active_session_id' in idle));
  assert.equal((await oriel.api('GET', '/video/v1/spaces', { token: tok })).status, 200);
});

test('SIGTERM stops the server gracefully (exit code 0)', async () => {
  await oriel.stop();
});
