// The dashboard's webhooks page in real Chromium against a real receiver on 127.0.0.1 that
// verifies every delivery with @mux/mux-node: a bad URL's error, adding an endpoint, its
// secret, an event's delivery in the log (delivered, 200), "Send again" delivering the same
// event once more, and removing the endpoint; each step checked through the REST API.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { installFailureLogs } from '../lib/oriel.mjs';
import { WebhookReceiver } from '../lib/webhook-receiver.mjs';
import { eventually, launchBrowser, screenshot, signIn, startWithUser } from './lib/dashboard.mjs';

installFailureLogs();

describe('dashboard webhooks', () => {
  let oriel;
  let browser;
  let page;
  let token;
  let receiver;
  before(async () => {
    oriel = await startWithUser();
    token = await oriel.createAccessToken('development');
    browser = await launchBrowser();
    page = await browser.context.newPage();
    await signIn(page, oriel);
    receiver = await new WebhookReceiver('dashboard').start();
  });
  after(async () => {
    await receiver?.stop();
    await browser?.close();
    await oriel?.stop();
  });

  const rest = (method, path, body) => oriel.api(method, path, { token, body });

  test('add an endpoint, see its secret and deliveries, send one again, remove it', async () => {
    await page.getByRole('link', { name: 'Webhooks' }).click();
    await page.getByRole('heading', { name: 'No webhook endpoints yet' }).waitFor();
    await page.getByRole('button', { name: 'Add your first endpoint' }).click();
    const panel = page.getByRole('region', { name: 'Add a webhook endpoint' });

    // A URL that is not one: Mux's error envelope, shown in the panel.
    await panel.getByLabel('URL').fill('not a url');
    await panel.getByRole('button', { name: 'Run Request' }).click();
    await panel.getByText('400').waitFor();
    assert.match(await panel.getByLabel('Response body').textContent(), /invalid_parameters/);

    await panel.getByLabel('URL').fill(receiver.url);
    assert.deepEqual(JSON.parse(await panel.getByLabel('Request body').textContent()), { url: receiver.url });
    await panel.getByRole('button', { name: 'Run Request' }).click();
    const [endpoint] = await eventually(async () => {
      const list = (await rest('GET', '/system/v1/webhooks')).json.data;
      return list.length === 1 ? list : null;
    }, 5000, 'the endpoint to exist');
    assert.equal(endpoint.url, receiver.url);
    receiver.secret = endpoint.signing_secret;

    const row = page.locator(`tr[data-endpoint="${endpoint.id}"]`);
    await row.getByRole('button', { name: `Show the secret of ${receiver.url}` }).click();
    assert.equal(await row.locator('[data-secret="signing_secret"]').textContent(), endpoint.signing_secret);

    // An event of the environment reaches the receiver and shows in the log.
    const space = (await rest('POST', '/video/v1/spaces', { passthrough: 'dash' })).json.data;
    await receiver.waitFor((ds) => ds.length === 1, { what: 'video.space.created' });
    const deliveries = page.getByRole('region', { name: `Deliveries to ${receiver.url}` });
    let delivery;
    await eventually(async () => {
      await deliveries.getByRole('button', { name: 'Refresh' }).click();
      delivery = deliveries.locator('tr[data-delivery]').first();
      return (await delivery.count()) === 1 && /delivered/.test(await delivery.textContent());
    }, 10_000, 'the delivery to show as delivered');
    const text = await delivery.textContent();
    assert.match(text, /video\.space\.created/);
    assert.match(text, new RegExp(space.id));
    assert.match(text, /200/);
    await screenshot(page, '30-webhook-deliveries');

    await delivery.getByRole('button', { name: 'Send video.space.created again' }).click();
    const resend = page.getByRole('region', { name: 'Send a delivery again' });
    await resend.getByRole('button', { name: 'Run Request' }).click();
    await receiver.waitFor((ds) => ds.length === 2, { what: 'the event sent again' });
    assert.equal(receiver.deliveries[1].body.id, receiver.deliveries[0].body.id, 'the same event, again');
    assert.deepEqual(receiver.problems(), []);

    await row.getByRole('button', { name: `Remove ${receiver.url}` }).click();
    await page.getByRole('region', { name: 'Remove webhook endpoint' }).getByRole('button', { name: 'Run Request' }).click();
    await page.getByRole('heading', { name: 'No webhook endpoints yet' }).waitFor();
    assert.deepEqual((await rest('GET', '/system/v1/webhooks')).json.data, []);
  });
});
