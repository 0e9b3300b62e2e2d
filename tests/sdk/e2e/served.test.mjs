// The SDK as Oriel serves it: GET /sdk/spaces.js is the committed build, cacheable with an
// ETag, and defines the global `OrielSpaces` with every export of `MuxSpaces` (same enum
// values). Loaded from an Oriel server, it finds that server by itself (no backend URL set),
// and never contacts another host.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe } from 'node:test';
import { useSdkE2E, pid, eventually } from '../lib/fixture.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const COMMITTED = path.resolve(here, '../../../sdk/web/dist/spaces.js');

const e2e = useSdkE2E();

describe('GET /sdk/spaces.js', () => {
  e2e.test('serves the committed build as JavaScript, with an ETag that revalidates to 304', async () => {
    const res = await fetch(`${e2e.server.baseUrl}/sdk/spaces.js`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^application\/javascript/);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    const body = await res.text();
    assert.equal(body, fs.readFileSync(COMMITTED, 'utf8'), 'the binary embeds sdk/web/dist/spaces.js (rebuild oriel after rebuilding the SDK)');
    const etag = res.headers.get('etag');
    assert.match(etag, /^"[0-9a-f]+"$/);
    const again = await fetch(`${e2e.server.baseUrl}/sdk/spaces.js`, { headers: { 'If-None-Match': etag } });
    assert.equal(again.status, 304);
    const head = await fetch(`${e2e.server.baseUrl}/sdk/spaces.js`, { method: 'HEAD' });
    assert.equal(head.status, 200);
  });

  e2e.test('OrielSpaces has every export of MuxSpaces, the same enum values, and MuxError-based errors', async () => {
    // The Mux page, with Oriel's script loaded next to it.
    const p = await e2e.participant('both', { sdk: 'mux' });
    await p.page.addScriptTag({ url: `${e2e.server.baseUrl}/sdk/spaces.js` });
    const cmp = await p.page.evaluate(() => {
      const mux = window.MuxSpaces;
      const ours = window.OrielSpaces;
      const missing = Object.keys(mux).filter((k) => !(k in ours));
      const enums = {};
      for (const name of ['SpaceEvent', 'ParticipantEvent', 'TrackEvent', 'TrackKind', 'TrackSource', 'ParticipantRole', 'ParticipantStatus', 'SubscriptionMode', 'AcrScore']) {
        // Mux's bundle has runtime-only `Unknown` members that its declarations do not.
        const strip = (o) => Object.fromEntries(Object.entries(o).filter(([k, v]) => k !== 'Unknown' && v !== 'Unknown' && !(k === '0' && v === 'Unknown')));
        enums[name] = { mux: strip(mux[name]), ours: strip(ours[name]) };
      }
      const errors = Object.keys(mux).filter((k) => /Error$/.test(k));
      const errorChecks = errors.map((k) => {
        const e = new ours[k]('x');
        return { name: k, isMuxError: e instanceof ours.MuxError, ownName: e.name === k, isError: e instanceof Error };
      });
      return { missing, enums, errorChecks, kinds: Object.keys(mux).map((k) => [k, typeof mux[k], typeof ours[k]]) };
    });
    assert.deepEqual(cmp.missing, []);
    for (const [name, { mux, ours }] of Object.entries(cmp.enums)) assert.deepEqual(ours, mux, name);
    for (const check of cmp.errorChecks) assert.deepEqual(check, { name: check.name, isMuxError: true, ownName: true, isError: true });
    for (const [k, theirs, mine] of cmp.kinds) assert.equal(mine, theirs, `typeof ${k}`);
  });

  e2e.test('loaded from Oriel with no backend URL anywhere, the SDK joins the server it came from; nothing else is contacted', async () => {
    const space = await e2e.env.createSpace();
    const context = await e2e.browser.context(); // no MUX_SPACES_BACKEND_URL in this one
    const page = await context.newPage();
    await page.goto(`${e2e.browser.pageUrl}?sdk=oriel&server=${encodeURIComponent(e2e.server.baseUrl)}`);
    assert.equal(await page.evaluate(() => window.MUX_SPACES_BACKEND_URL), undefined);
    const id = pid('by-itself');
    const result = await page.evaluate((jwt) => window.oriel.join(jwt, null, 10000), e2e.env.sign(space.id, { participantId: id, role: 'subscriber' }));
    assert.equal(result.ok, true, JSON.stringify(result.error));
    assert.equal(result.localParticipant.id, id);
    const url = await page.evaluate(() => window.__orielSockets[0].url);
    assert.equal(new URL(url).host, new URL(e2e.server.baseUrl).host);
    assert.match(url, /\/pluto\/v1\?token=/);
    await eventually(() => e2e.env.getSpace(space.id), (s) => s.status === 'active', { what: 'the space active' });
    assert.deepEqual(context.blocked, []);
    const iceServers = await page.evaluate(() => window.__orielPeerConnections.map((x) => x.config.iceServers));
    // One subscriber connection, with exactly the node's own TURN server of joined.ice_servers
    // (its credentials minted for this connection) and no public STUN server.
    assert.equal(iceServers.length, 1, JSON.stringify(iceServers));
    assert.equal(iceServers[0].length, 1, JSON.stringify(iceServers));
    const [turn] = iceServers[0];
    assert.ok(turn.urls.length > 0 && turn.urls.every((u) => /^turns?:127\.0\.0\.1:\d+\?transport=(udp|tcp)$/.test(u)), JSON.stringify(turn));
    assert.match(turn.username, /^\d+:/, 'a TURN REST username EXPIRY:ID');
    assert.ok(turn.credential.length > 0);
  });
});
