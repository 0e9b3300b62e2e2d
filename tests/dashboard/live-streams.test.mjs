// The dashboard's live streams page in real Chromium, each step checked against the REST API
// with HTTP Basic: the first live stream through its Run Request (with a simulcast target), its
// stream key and playback URL, disabling it, and deleting it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { installFailureLogs } from '../lib/oriel.mjs';
import { eventually, launchBrowser, screenshot, signIn, startWithUser } from './lib/dashboard.mjs';

installFailureLogs();

describe('dashboard live streams', () => {
  let oriel;
  let browser;
  let page;
  let token;
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

  test('create a live stream with a simulcast target, see its key and playback URL, disable and delete it', async () => {
    await page.getByRole('link', { name: 'Live streams' }).click();
    await page.getByRole('heading', { name: 'No live streams yet' }).waitFor();
    await page.getByRole('button', { name: 'Create your first live stream' }).click();
    const panel = page.getByRole('region', { name: 'Create a live stream' });
    await panel.getByLabel(/Passthrough/).fill('town hall');
    await panel.getByLabel(/Simulcast target URL/).fill('rtmp://127.0.0.1:1935/live');
    await panel.getByLabel(/Simulcast target stream key/).fill('key-1');
    assert.deepEqual(JSON.parse(await panel.getByLabel('Request body').textContent()), {
      playback_policy: ['public'], latency_mode: 'standard', passthrough: 'town hall',
      simulcast_targets: [{ url: 'rtmp://127.0.0.1:1935/live', stream_key: 'key-1' }],
    });
    await panel.getByRole('button', { name: 'Run Request' }).click();
    const details = page.locator('section.stream-details');
    await details.waitFor();

    const [stream] = (await rest('GET', '/video/v1/live-streams')).json.data;
    assert.equal(stream.passthrough, 'town hall');
    assert.equal(await details.locator('[data-secret="Stream key"]').textContent(), stream.stream_key);
    assert.equal(await details.locator('[data-playback-url]').textContent(), `${oriel.baseUrl}/hls/${stream.playback_ids[0].id}.m3u8`);
    assert.match(await details.locator('.targets').textContent(), /rtmp:\/\/127\.0\.0\.1:1935\/live\s*idle/);
    await screenshot(page, '20-live-stream-details');

    await details.getByRole('button', { name: 'Disable live stream' }).click();
    const disable = page.getByRole('region', { name: 'Disable live stream' });
    assert.equal(await disable.locator('.request-path').textContent(), `/video/v1/live-streams/${stream.id}/disable`);
    await disable.getByRole('button', { name: 'Run Request' }).click();
    await eventually(async () => (await rest('GET', `/video/v1/live-streams/${stream.id}`)).json.data.status === 'disabled', 5000, 'disabled');
    // The list reloads with the new status; the details stay open and now offer to enable it.
    await page.locator('section.stream-details').getByRole('button', { name: 'Enable live stream' }).waitFor();
    await page.locator('section.stream-details').getByRole('button', { name: 'Delete live stream' }).click();
    await page.getByRole('region', { name: 'Delete live stream' }).getByRole('button', { name: 'Run Request' }).click();
    await eventually(async () => (await rest('GET', `/video/v1/live-streams/${stream.id}`)).status === 404, 5000, 'deleted');
    await page.getByRole('heading', { name: 'No live streams yet' }).waitFor();
  });
});
