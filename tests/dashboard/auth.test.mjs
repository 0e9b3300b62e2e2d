// Signing in and out, anonymous visitors, and the wall between the dashboard's session and the
// REST API's HTTP Basic credentials.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { basicAuth, installFailureLogs } from '../lib/oriel.mjs';
import { EMAIL, eventually, launchBrowser, screenshot, signIn, signInHttp, startWithUser } from './lib/dashboard.mjs';

installFailureLogs();

const PAGES = ['/', '/spaces', '/spaces/abc123', '/live-streams', '/signing-keys', '/access-tokens', '/environments'];

describe('dashboard sign-in', () => {
  let oriel;
  let browser;
  before(async () => {
    oriel = await startWithUser();
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await oriel?.stop();
  });

  test('every page refuses an anonymous visitor (HTTP): 303 to /sign-in', async () => {
    for (const page of PAGES) {
      const res = await fetch(oriel.baseUrl + page, { redirect: 'manual' });
      assert.equal(res.status, 303, page);
      assert.equal(res.headers.get('location'), `/sign-in?next=${encodeURIComponent(page)}`, page);
    }
    const signInPage = await fetch(`${oriel.baseUrl}/sign-in`);
    assert.equal(signInPage.status, 200);
    assert.match(await signInPage.text(), /\/dashboard\/assets\/app\.js/);
    assert.match(signInPage.headers.get('content-security-policy'), /frame-ancestors 'none'/);
  });

  test('every dashboard API refuses an anonymous caller: 401 in the envelope, no Basic prompt', async () => {
    for (const [method, path] of [
      ['GET', '/dashboard/api/session'],
      ['GET', '/dashboard/api/environments'],
      ['POST', '/dashboard/api/environments'],
      ['GET', '/dashboard/api/environments/x/access-tokens'],
      ['POST', '/dashboard/api/environments/x/run'],
      ['GET', '/dashboard/api/environments/x/spaces/y/participants'],
      ['POST', '/dashboard/api/environments/x/spaces/y/join-token'],
      ['POST', '/dashboard/api/sign-out'],
    ]) {
      const res = await fetch(oriel.baseUrl + path, { method, headers: { 'content-type': 'application/json' }, body: method === 'GET' ? undefined : '{}' });
      assert.equal(res.status, 401, `${method} ${path}`);
      assert.equal(res.headers.get('www-authenticate'), null, `${method} ${path}`);
      assert.equal((await res.json()).error.type, 'unauthorized');
    }
  });

  test('HTTP Basic never opens the dashboard, the session cookie never opens the REST API', async () => {
    const token = await oriel.createAccessToken('development');
    // The access token works on the REST API...
    assert.equal((await oriel.api('GET', '/video/v1/spaces', { token })).status, 200);
    // ...but not on the dashboard's API or pages.
    const dash = await fetch(`${oriel.baseUrl}/dashboard/api/environments`, { headers: { authorization: basicAuth(token) } });
    assert.equal(dash.status, 401);
    const page = await fetch(`${oriel.baseUrl}/spaces`, { headers: { authorization: basicAuth(token) }, redirect: 'manual' });
    assert.equal(page.status, 303);

    const { cookie, csrf, setCookie } = await signInHttp(oriel);
    assert.match(setCookie, /^__Host-oriel_session=[A-Za-z0-9_-]{43}; Path=\/; Secure; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    // The session works on the dashboard...
    const envs = await fetch(`${oriel.baseUrl}/dashboard/api/environments`, { headers: { cookie } });
    assert.equal(envs.status, 200);
    // ...but not on the REST API, whatever the method and with the CSRF token too.
    for (const [method, path] of [['GET', '/video/v1/spaces'], ['POST', '/video/v1/spaces'], ['GET', '/system/v1/signing-keys'], ['POST', '/system/v1/signing-keys']]) {
      const res = await fetch(oriel.baseUrl + path, { method, headers: { cookie, 'x-csrf-token': csrf } });
      assert.equal(res.status, 401, `${method} ${path} with a session cookie`);
    }
  });

  test('unsafe dashboard requests need the CSRF token and a same-origin Origin', async () => {
    const { cookie, csrf } = await signInHttp(oriel);
    const post = (headers) => fetch(`${oriel.baseUrl}/dashboard/api/environments`, {
      method: 'POST', headers: { cookie, 'content-type': 'application/json', ...headers }, body: JSON.stringify({ name: `env-${Date.now()}` }),
    });
    assert.equal((await post({})).status, 403);
    assert.equal((await post({ 'x-csrf-token': 'f'.repeat(64) })).status, 403);
    assert.equal((await post({ 'x-csrf-token': csrf, origin: 'http://evil.example' })).status, 403);
    assert.equal((await post({ 'x-csrf-token': csrf, 'sec-fetch-site': 'cross-site' })).status, 403);
    assert.equal((await post({ 'x-csrf-token': csrf })).status, 201);
    // Another session's token does not do.
    const other = await signInHttp(oriel);
    assert.equal((await post({ 'x-csrf-token': other.csrf })).status, 403);
    // The request runner only runs Mux REST paths.
    const envs = await (await fetch(`${oriel.baseUrl}/dashboard/api/environments`, { headers: { cookie } })).json();
    const run = (body) => fetch(`${oriel.baseUrl}/dashboard/api/environments/${envs.data[0].id}/run`, {
      method: 'POST', headers: { cookie, 'x-csrf-token': csrf, 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    assert.equal((await run({ method: 'GET', path: '/dashboard/api/environments' })).status, 400);
    assert.equal((await run({ method: 'GET', path: '/video/v1/../../dashboard/api/session' })).status, 400);
    const listed = await run({ method: 'GET', path: '/video/v1/spaces' });
    assert.equal(listed.status, 200);
    assert.equal(listed.headers.get('x-oriel-run'), 'rest');
    assert.deepEqual(await listed.json(), { data: [] });
  });

  test('a wrong password is refused; sign-in attempts are rate limited', async () => {
    const wrong = await fetch(`${oriel.baseUrl}/dashboard/api/sign-in`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'nobody@example.com', password: 'whatever1' }),
    });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers.get('set-cookie'), null);
    let limited = 0;
    for (let i = 0; i < 15; i++) {
      const res = await fetch(`${oriel.baseUrl}/dashboard/api/sign-in`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'guess@example.com', password: `guess-${i}-x` }),
      });
      if (res.status === 429) {
        limited++;
        assert.ok(Number(res.headers.get('retry-after')) >= 1);
      } else {
        assert.equal(res.status, 401);
      }
    }
    assert.ok(limited >= 4, `expected the limit to kick in after 10 attempts, got ${limited} refusals`);
  });

  test('anonymous browser visits end on the sign-in page', async () => {
    const page = await browser.context.newPage();
    for (const path of PAGES) {
      await page.goto(oriel.baseUrl + path);
      await page.waitForURL(/\/sign-in(\?|$)/);
      await page.getByRole('heading', { name: 'Sign in to Oriel' }).waitFor();
    }
    await page.close();
  });

  test('signing in and out in Chromium, with a Secure HttpOnly SameSite=Strict session cookie', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${oriel.baseUrl}/access-tokens`);
    await page.waitForURL(/\/sign-in\?next=%2Faccess-tokens$/);
    await page.getByRole('heading', { name: 'Sign in to Oriel' }).waitFor();
    await screenshot(page, '01-sign-in');

    // A wrong password: an error, still signed out.
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Email or password is incorrect' }).waitFor();
    await screenshot(page, '02-sign-in-error');

    // The right one: back to the page asked for.
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/access-tokens$/);
    await page.getByRole('heading', { level: 1, name: 'Access tokens' }).waitFor();
    const cookies = await browser.context.cookies(oriel.baseUrl);
    const session = cookies.find((c) => c.name === '__Host-oriel_session');
    assert.ok(session, `Chromium kept the __Host- cookie on http://127.0.0.1: ${JSON.stringify(cookies)}`);
    assert.equal(session.secure, true);
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    assert.equal(session.path, '/');
    assert.equal(await page.evaluate(() => document.cookie), '', 'scripts cannot read the session');
    assert.ok(await page.getByText(EMAIL).isVisible());

    // Sign out: the session is gone on the server too.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/sign-in$/);
    await page.getByRole('heading', { name: 'Sign in to Oriel' }).waitFor();
    const res = await fetch(`${oriel.baseUrl}/dashboard/api/session`, { headers: { cookie: `__Host-oriel_session=${session.value}` } });
    assert.equal(res.status, 401, 'the signed-out session is deleted');
    await page.goto(`${oriel.baseUrl}/spaces`);
    await eventually(() => page.url().includes('/sign-in'), 5000, 'redirect to sign-in after sign-out');
    await page.close();
  });
});
