// The call-quality rating of the unmodified @mux/spaces-web@1.2.0: after a call,
// `space.submitAcrScore(n)` posts `text/plain` JSON to
// `{window.MUX_SPACES_HELIOS_URL}/helios/v1/submit_acr/{JWT}` from the app's origin (the fixture
// points MUX_SPACES_HELIOS_URL at the node). Oriel stores it with the space, session and
// participant, shows it to the dashboard, answers with CORS, and never logs the token.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { describe } from 'node:test';
import { useE2E } from './lib/fixture.mjs';
import { ORIEL_BIN } from './lib/server.mjs';

const e2e = useE2E();
const EMAIL = 'rater@example.com';
const PASSWORD = 'correct horse battery';

/** A dashboard user and its session cookie, to read what the dashboard shows. */
async function dashboardCookie() {
  await new Promise((resolve, reject) => {
    execFile(ORIEL_BIN, ['admin', 'create-user', '--data-dir', e2e.server.dataDir, '--email', EMAIL, '--password', PASSWORD],
      { timeout: 30_000 }, (error, _out, stderr) => (error ? reject(new Error(`create-user: ${stderr}`)) : resolve()));
  });
  const res = await fetch(`${e2e.server.baseUrl}/dashboard/api/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: EMAIL, password: PASSWORD }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  return res.headers.get('set-cookie').split(';')[0];
}

const ratingUrl = (jwt) => `${e2e.server.baseUrl}/helios/v1/submit_acr/${jwt}`;

describe('call-quality ratings', () => {
  e2e.test('submitAcrScore after a call is stored with space, session and participant, shown to the dashboard, with no CORS error and no token in the log', async () => {
    const space = await e2e.env.createSpace();
    const alice = await e2e.joined('alice', space.id);
    const sessionId = alice.joined.sessionId;
    assert.ok(sessionId, 'join gave a session id');
    assert.equal((await alice.p.leave()).ok, true);
    // Rated after leaving, as apps do; then rated again: the second one replaces the first.
    for (const score of [2, 4]) {
      const rated = await alice.p.submitAcrScore(score);
      assert.deepEqual(rated, { ok: true }, `submitAcrScore(${score}) rejected: ${JSON.stringify(rated)}`);
    }
    const cors = alice.p.consoleErrors.filter((m) => /CORS|Access-Control|submit_acr|acr score/i.test(m));
    assert.deepEqual(cors, [], 'the browser reported no CORS or rating error');

    const cookie = await dashboardCookie();
    const res = await fetch(`${e2e.server.baseUrl}/dashboard/api/environments/${e2e.env.token.environment.id}/spaces/${space.id}/ratings`, { headers: { cookie } });
    assert.equal(res.status, 200);
    const { data } = await res.json();
    assert.equal(data.length, 1, JSON.stringify(data));
    assert.equal(data[0].score, 4);
    assert.equal(data[0].participant_id, alice.id);
    assert.equal(data[0].session_id, sessionId);
    assert.equal(data[0].connection_id, alice.joined.localParticipant.connectionId);

    // Bad input: the Mux error envelope with CORS headers, never a 5xx.
    const bad = async (url, init, status) => {
      const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain' }, ...init });
      assert.equal(r.status, status, `${url.slice(0, 60)}: ${await r.clone().text()}`);
      assert.equal(r.headers.get('access-control-allow-origin'), '*');
      assert.equal(typeof (await r.json()).error.type, 'string');
    };
    await bad(ratingUrl(alice.jwt), { body: JSON.stringify({ acr_score: 9 }) }, 400);
    await bad(ratingUrl(alice.jwt), { body: 'not json' }, 400);
    await bad(ratingUrl(`${alice.jwt}x`), { body: JSON.stringify({ acr_score: 3 }) }, 401);
    await bad(ratingUrl('garbage'), { body: JSON.stringify({ acr_score: 3 }) }, 401);
    const otherSpace = await e2e.env.createSpace();
    await bad(ratingUrl(alice.jwt), { body: JSON.stringify({ acr_score: 3, space_id: otherSpace.id }) }, 400);
    // A validly signed token that expired long ago no longer rates; one expired an hour ago does.
    await bad(ratingUrl(e2e.env.sign(space.id, { participantId: 'old', expiration: '-2d' })), { body: JSON.stringify({ acr_score: 3 }) }, 401);
    const recent = await fetch(ratingUrl(e2e.env.sign(space.id, { participantId: 'late', expiration: '-1h' })), { method: 'POST', body: JSON.stringify({ acr_score: 5 }) });
    assert.equal(recent.status, 204);
    // A space that never had a session has nothing to rate.
    await bad(ratingUrl(e2e.env.sign(otherSpace.id, { participantId: 'x' })), { body: JSON.stringify({ acr_score: 3 }) }, 412);

    const preflight = await fetch(ratingUrl(alice.jwt), {
      method: 'OPTIONS',
      headers: { origin: 'http://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
    assert.match(preflight.headers.get('access-control-allow-methods'), /POST/);

    // No token, nor any part of its signature, in anything the node logged.
    const log = fs.readFileSync(e2e.server.logFile, 'utf8');
    assert.match(log, /submit_acr\/\[redacted\]/, 'the rating requests were logged, redacted');
    for (const jwt of [alice.jwt]) {
      const signature = jwt.split('.')[2];
      assert.equal(log.includes(signature.slice(0, 24)), false, 'a join token appears in the node log');
    }
    assert.equal(/eyJ[\w-]+\.eyJ[\w-]+\./.test(log), false, 'something JWT-shaped appears in the node log');
  });
});
