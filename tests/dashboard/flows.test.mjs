// The dashboard's paths in real Chromium, each checked against the REST API with HTTP Basic:
// the first space through "Create your first space" and Run Request, environments, signing
// keys, access tokens, a space's live participants (a test join on the meeting page), and
// deleting a space. Screenshots of every page go to tests/dashboard/screenshots/.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { installFailureLogs } from '../lib/oriel.mjs';
import { eventually, launchBrowser, screenshot, signIn, startWithUser } from './lib/dashboard.mjs';

installFailureLogs();

describe('dashboard flows', () => {
  let oriel;
  let browser;
  let page;
  let token; // an access token of `development`, to check outcomes through the REST API
  let spaceId;
  before(async () => {
    oriel = await startWithUser();
    token = await oriel.createAccessToken('development');
    browser = await launchBrowser();
    page = await browser.context.newPage();
    await signIn(page, oriel);
  });
  after(async () => {
    await browser?.close();
    await oriel?.stop();
  });

  const rest = (method, path, body) => oriel.api(method, path, { token, body });
  const requestPanel = (title) => page.getByRole('region', { name: title });

  test('the first space: empty state, the request it stands for, Run Request, the new id', async () => {
    await page.goto(`${oriel.baseUrl}/spaces`);
    await page.getByRole('heading', { name: 'No spaces yet' }).waitFor();
    assert.equal(await page.getByLabel('Environment').inputValue() !== '', true);
    assert.equal(await page.locator('#environment-select option:checked').textContent(), 'development');
    await screenshot(page, '03-spaces-empty');

    await page.getByRole('button', { name: 'Create your first space' }).click();
    const panel = requestPanel('Create a space');
    await panel.getByLabel(/Passthrough/).fill('my first space');
    assert.equal(await panel.locator('.method').textContent(), 'POST');
    assert.equal(await panel.locator('.request-path').textContent(), '/video/v1/spaces');
    assert.deepEqual(JSON.parse(await panel.getByLabel('Request body').textContent()), { passthrough: 'my first space' });
    await panel.getByRole('button', { name: 'Run Request' }).click();
    const response = panel.getByRole('status', { name: 'Response' });
    await response.waitFor();
    assert.match(await response.locator('.status').textContent(), /^201 Created/);
    const created = JSON.parse(await response.getByLabel('Response body').textContent());
    spaceId = created.data.id;
    assert.equal(created.data.passthrough, 'my first space');
    assert.equal(created.data.status, 'idle');
    await screenshot(page, '04-spaces-run-request');

    // The REST API, with an access token, sees exactly that space.
    const fetched = await rest('GET', `/video/v1/spaces/${spaceId}`);
    assert.equal(fetched.status, 200);
    assert.deepEqual(fetched.json, created);

    // The list shows it with its status.
    await panel.getByRole('button', { name: 'Close' }).click();
    const row = page.getByRole('row').filter({ hasText: spaceId });
    await row.waitFor();
    assert.match(await row.textContent(), /my first space.*idle/);
    await screenshot(page, '05-spaces-list');
  });

  test('environments: create one, switch to it and back', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Environments' }).click();
    await page.getByRole('heading', { level: 1, name: 'Environments' }).waitFor();
    await page.getByLabel('Name').fill('production');
    await page.getByRole('button', { name: 'Create environment' }).click();
    // The new environment becomes the current one.
    await eventually(async () => (await page.locator('#environment-select option:checked').textContent()) === 'production', 5000, 'switch to production');
    assert.match(await page.getByRole('row').filter({ hasText: 'production' }).textContent(), /current/);
    await screenshot(page, '06-environments');

    await page.getByRole('link', { name: 'Spaces' }).click();
    await page.getByRole('heading', { name: 'No spaces yet' }).waitFor();
    // Switching with the dropdown at the top: development's space is back.
    await page.getByLabel('Environment').selectOption({ label: 'development' });
    await page.getByRole('row').filter({ hasText: spaceId }).waitFor();
    await page.getByLabel('Environment').selectOption({ label: 'production' });
    await page.getByRole('heading', { name: 'No spaces yet' }).waitFor();
    await page.getByLabel('Environment').selectOption({ label: 'development' });
    await page.getByRole('row').filter({ hasText: spaceId }).waitFor();
    // The choice survives a reload.
    await page.reload();
    await page.getByRole('row').filter({ hasText: spaceId }).waitFor();
  });

  test('signing keys: create (private key once, copy, download), list, delete', async () => {
    await page.getByRole('link', { name: 'Signing keys' }).click();
    await page.getByRole('heading', { name: 'No signing keys yet' }).waitFor();
    await screenshot(page, '07-signing-keys-empty');
    await page.getByRole('button', { name: 'Create your first signing key' }).click();
    const panel = requestPanel('Create a signing key');
    assert.equal(await panel.locator('.request-path').textContent(), '/system/v1/signing-keys');
    await panel.getByRole('button', { name: 'Run Request' }).click();
    const reveal = page.getByRole('region', { name: 'New signing key' });
    await reveal.waitFor({ timeout: 15_000 });
    const keyId = await reveal.locator('[data-secret="Signing key ID"]').textContent();
    const privateKey = await reveal.locator('[data-secret="Private key (base64)"]').textContent();
    assert.match(Buffer.from(privateKey, 'base64').toString(), /^-----BEGIN RSA PRIVATE KEY-----/);
    await reveal.getByRole('button', { name: 'Copy' }).nth(1).click();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), privateKey);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      reveal.getByRole('button', { name: 'Download' }).click(),
    ]);
    assert.equal(download.suggestedFilename(), `oriel-signing-key-${keyId}.pem`);
    assert.match(fs.readFileSync(await download.path(), 'utf8'), /^-----BEGIN RSA PRIVATE KEY-----/);
    await page.getByRole('row').filter({ hasText: keyId }).waitFor();
    await screenshot(page, '08-signing-key-created');

    const listed = await rest('GET', '/system/v1/signing-keys');
    assert.deepEqual(listed.json.data.map((k) => k.id), [keyId]);
    await reveal.getByRole('button', { name: 'I have saved it' }).click();
    assert.equal(await page.getByText(privateKey).count(), 0, 'the private key is not shown again');

    await page.getByRole('button', { name: `Delete signing key ${keyId}` }).click();
    const del = requestPanel('Delete signing key');
    assert.equal(await del.locator('.request-path').textContent(), `/system/v1/signing-keys/${keyId}`);
    await del.getByRole('button', { name: 'Run Request' }).click();
    await del.getByRole('status', { name: 'Response' }).filter({ hasText: '204' }).waitFor();
    await page.getByRole('heading', { name: 'No signing keys yet' }).waitFor();
    assert.equal((await rest('GET', `/system/v1/signing-keys/${keyId}`)).status, 404);
  });

  test('access tokens: create (secret once), works on the REST API, revoke refuses it at once', async () => {
    await page.getByRole('link', { name: 'Access tokens' }).click();
    await page.getByRole('heading', { level: 1, name: 'Access tokens' }).waitFor();
    await page.getByRole('button', { name: 'Create access token' }).click();
    await page.getByLabel(/^Name/).fill('backend');
    await page.getByRole('button', { name: 'Generate token' }).click();
    const reveal = page.getByRole('region', { name: 'New access token' });
    await reveal.waitFor();
    const id = await reveal.locator('[data-secret="Access token ID"]').textContent();
    const secret = await reveal.locator('[data-secret="Secret key"]').textContent();
    await screenshot(page, '09-access-token-created');
    const fresh = { id, secret };
    assert.equal((await oriel.api('GET', '/video/v1/spaces', { token: fresh })).status, 200);

    await reveal.getByRole('button', { name: 'I have saved it' }).click();
    const row = page.getByRole('row').filter({ hasText: id });
    assert.match(await row.textContent(), /backend.*active/);
    await row.getByRole('button', { name: 'Revoke access token backend' }).click();
    await row.getByRole('button', { name: 'Confirm revoke' }).click();
    await eventually(async () => /revoked/.test(await row.textContent()), 5000, 'row shows revoked');
    await screenshot(page, '10-access-tokens');
    const refused = await oriel.api('GET', '/video/v1/spaces', { token: fresh });
    assert.equal(refused.status, 401, 'a revoked token is refused at once');
    // The other token still works.
    assert.equal((await rest('GET', '/video/v1/spaces')).status, 200);
  });

  test('a long list of access tokens pages through, 25 at a time, newest first', async () => {
    // Two tokens exist already: the test's own and the revoked "backend".
    const made = [];
    for (let i = 0; i < 25; i++) made.push((await oriel.createAccessToken('development')).id);
    await page.goto(`${oriel.baseUrl}/access-tokens`);
    const rows = page.locator('tbody tr');
    await eventually(async () => (await rows.count()) === 25, 5000, 'a first page of 25');
    assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.tokenId)), made.reverse());
    const pager = page.getByRole('navigation', { name: 'Access tokens pages' });
    assert.equal(await pager.getByRole('button', { name: 'Previous page' }).isDisabled(), true);
    await pager.getByRole('button', { name: 'Next page' }).click();
    await eventually(async () => (await rows.count()) === 2, 5000, 'a second page of 2');
    assert.match(await rows.nth(0).textContent(), /backend.*revoked/);
    assert.equal(await rows.nth(1).getAttribute('data-token-id'), token.id);
    assert.equal(await pager.getByRole('button', { name: 'Next page' }).isDisabled(), true);
    await screenshot(page, '16-access-tokens-page-2');
    await pager.getByRole('button', { name: 'Previous page' }).click();
    await eventually(async () => (await rows.count()) === 25, 5000, 'back to the first page');
  });

  test("a space's page shows participants live as they join and leave (test join on the meeting page)", async () => {
    await page.goto(`${oriel.baseUrl}/spaces/${spaceId}`);
    await page.locator('.empty-inline').waitFor();
    await screenshot(page, '11-space-idle');

    // Test join: a publisher token for "alice", then the meeting page it opens.
    const join = page.getByRole('region', { name: 'Test join' });
    await join.getByLabel('Role').selectOption('publisher');
    await join.getByLabel(/Participant ID/).fill('alice');
    await join.getByLabel('Expires in').selectOption('900');
    await join.getByRole('button', { name: 'Create join token' }).click();
    const jwt = await join.locator('[data-secret="join-token"]').textContent();
    const claims = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
    assert.equal(claims.sub, spaceId);
    assert.equal(claims.participant_id, 'alice');
    assert.equal(claims.role, 'publisher');
    assert.ok(claims.exp - Date.now() / 1000 > 800 && claims.exp - Date.now() / 1000 <= 901);
    // The dashboard's own key does not show among the environment's signing keys.
    assert.deepEqual((await rest('GET', '/system/v1/signing-keys')).json.data, []);

    const [meeting] = await Promise.all([
      browser.context.waitForEvent('page'),
      join.getByRole('link', { name: 'Open meeting page' }).click(),
    ]);
    await meeting.waitForLoadState();
    assert.match(meeting.url(), /\/demo\?token=/);
    // The lobby is ready once its Join button is enabled (devices asked for, form wired up).
    await meeting.locator('#join-button:enabled').waitFor({ timeout: 15_000 });
    assert.equal(await meeting.locator('#preview-cam').getAttribute('aria-pressed'), 'true');
    await meeting.locator('#name-input').fill('Alice');
    await meeting.locator('#join-button').click();

    // Alice appears, with her camera and microphone, and the space turns active.
    const alice = page.locator('[data-participant-id="alice"]');
    await alice.waitFor({ timeout: 20_000 });
    assert.match(await alice.textContent(), /Alice/);
    assert.match(await alice.textContent(), /publisher/);
    await eventually(async () => (await alice.locator('[data-track-kind="video"]').count()) === 1
      && (await alice.locator('[data-track-kind="audio"]').count()) === 1
      && /connected/.test(await alice.textContent()), 20_000, 'alice publishes camera and microphone');
    await eventually(async () => (await page.locator('.page-header .badge').textContent()) === 'active', 5000, 'space active');
    assert.equal((await rest('GET', `/video/v1/spaces/${spaceId}`)).json.data.status, 'active');
    // A second participant, a subscriber without a participant id, joins too.
    await join.getByLabel('Role').selectOption('subscriber');
    await join.getByLabel(/Participant ID/).fill('');
    await join.getByRole('button', { name: 'Create join token' }).click();
    await eventually(async () => (await join.locator('[data-secret="join-token"]').textContent()) !== jwt, 5000, 'second token');
    const href = await join.getByRole('link', { name: 'Open meeting page' }).getAttribute('href');
    const watcher = await browser.context.newPage();
    await watcher.goto(`${oriel.baseUrl}${href}&autojoin=1&name=Bob`);
    await eventually(async () => (await page.locator('.participant').count()) === 2, 20_000, 'two participants');
    assert.equal(await page.getByTestId('participant-count').textContent(), '2');
    await eventually(async () => /layer on/.test(await alice.innerHTML()), 15_000, 'simulcast layers measured');
    await screenshot(page, '12-space-live');
    await screenshot(meeting, '13-meeting-page');

    // They leave: the page follows.
    await watcher.close();
    await eventually(async () => (await page.locator('.participant').count()) === 1, 15_000, 'bob left');
    await meeting.close();
    await page.locator('.empty-inline').waitFor({ timeout: 15_000 });
    await eventually(async () => (await page.locator('.page-header .badge').textContent()) === 'idle', 10_000, 'space idle');

    // After the call alice rates it as the Mux SDK does (text/plain JSON to /helios/...): the
    // page shows the rating with her participant id and the session that just ended.
    const ratings = page.getByRole('table', { name: 'Ratings' });
    assert.equal(await page.getByTestId('no-ratings').count(), 1);
    const rated = await fetch(`${oriel.baseUrl}/helios/v1/submit_acr/${jwt}`, {
      method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ acr_score: 4, participant_id: 'alice' }),
    });
    assert.equal(rated.status, 204, await rated.text());
    const row = ratings.locator('tr[data-participant-id="alice"]');
    await row.waitFor({ timeout: 5000 });
    assert.equal(await row.getAttribute('data-score'), '4');
    assert.match(await row.textContent(), /good/);
    assert.match(await page.getByTestId('rating-average').textContent(), /4\.0/);
    await screenshot(page, '14-space-rated');
  });

  test('deleting a space through its Run Request', async () => {
    const danger = page.getByRole('region', { name: 'Delete this space' });
    await danger.getByRole('button', { name: 'Delete space…' }).click();
    const panel = requestPanel('Delete space');
    assert.equal(await panel.locator('.method').textContent(), 'DELETE');
    assert.equal(await panel.locator('.request-path').textContent(), `/video/v1/spaces/${spaceId}`);
    await screenshot(page, '14-space-delete');
    await panel.getByRole('button', { name: 'Run Request' }).click();
    await panel.getByRole('status', { name: 'Response' }).filter({ hasText: '204' }).waitFor();
    await page.waitForURL(/\/spaces$/);
    await page.getByRole('heading', { name: 'No spaces yet' }).waitFor();
    assert.equal((await rest('GET', `/video/v1/spaces/${spaceId}`)).status, 404);
  });

  test('a long list of spaces pages through, 25 at a time, newest first', async () => {
    const ids = [];
    for (let i = 0; i < 27; i++) {
      const res = await rest('POST', '/video/v1/spaces', { passthrough: `space ${i}` });
      assert.equal(res.status, 201);
      ids.push(res.json.data.id);
    }
    await page.goto(`${oriel.baseUrl}/spaces`);
    const rows = page.locator('tbody tr');
    await eventually(async () => (await rows.count()) === 25, 5000, 'a first page of 25');
    assert.equal(await rows.first().locator('td').nth(1).textContent(), 'space 26');
    const pager = page.getByRole('navigation', { name: 'Spaces pages' });
    assert.equal(await pager.getByRole('button', { name: 'Previous page' }).isDisabled(), true);
    await pager.getByRole('button', { name: 'Next page' }).click();
    await eventually(async () => (await rows.count()) === 2, 5000, 'a second page of 2');
    assert.deepEqual(await rows.locator('td:nth-child(2)').allTextContents(), ['space 1', 'space 0']);
    assert.equal(await pager.getByRole('button', { name: 'Next page' }).isDisabled(), true);
    await screenshot(page, '15-spaces-page-2');
    await pager.getByRole('button', { name: 'Previous page' }).click();
    await eventually(async () => (await rows.count()) === 25, 5000, 'back to the first page');
    for (const id of ids) assert.equal((await rest('DELETE', `/video/v1/spaces/${id}`)).status, 204);
  });
});
