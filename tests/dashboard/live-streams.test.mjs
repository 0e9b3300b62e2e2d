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

describe('dashboard broadcast on a space page', () => {
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

  test('add a broadcast to a live stream, be refused a start while the space is idle, delete it', async () => {
    const stream = (await rest('POST', '/video/v1/live-streams', { playback_policy: 'public', passthrough: 'show' })).json.data;
    const space = (await rest('POST', '/video/v1/spaces', {})).json.data;
    await page.goto(`${oriel.baseUrl}/spaces/${space.id}`);
    const card = page.locator('section.card', { has: page.getByRole('heading', { name: 'Broadcast' }) });
    await card.getByRole('button', { name: 'Add a broadcast' }).click();
    const add = page.getByRole('region', { name: 'Add a broadcast' });
    await add.getByLabel('Layout').selectOption('crop');
    await add.getByLabel('Resolution').selectOption('1280x720');
    assert.deepEqual(JSON.parse(await add.getByLabel('Request body').textContent()), { live_stream_id: stream.id, layout: 'crop', resolution: '1280x720' });
    await add.getByRole('button', { name: 'Run Request' }).click();
    await card.getByTestId('broadcast-status').waitFor();
    const [broadcast] = (await rest('GET', `/video/v1/spaces/${space.id}`)).json.data.broadcasts;
    assert.equal(broadcast.layout, 'crop');
    assert.equal(broadcast.resolution, '1280x720');
    assert.equal(broadcast.live_stream_id, stream.id);
    await screenshot(page, '21-space-broadcast');

    await card.getByRole('button', { name: 'Start broadcast' }).click();
    const start = page.getByRole('region', { name: 'Start broadcast' });
    assert.equal(await start.locator('.request-path').textContent(), `/video/v1/spaces/${space.id}/broadcasts/${broadcast.id}/start`);
    await start.getByRole('button', { name: 'Run Request' }).click();
    const response = start.getByRole('status', { name: 'Response' });
    await response.waitFor();
    assert.match(await response.locator('.status').textContent(), /^412/, 'nobody is connected: the start is refused');

    await card.getByRole('button', { name: 'Delete broadcast' }).click();
    await page.getByRole('region', { name: 'Delete broadcast' }).getByRole('button', { name: 'Run Request' }).click();
    await card.getByRole('button', { name: 'Add a broadcast' }).waitFor();
    assert.equal((await rest('GET', `/video/v1/spaces/${space.id}`)).json.data.broadcasts, undefined);
  });
});
