// Helpers of the dashboard's end-to-end tests: a server with a dashboard user, real Chromium
// (playwright-core from tests/e2e, Debian's /usr/bin/chromium), signing in, screenshots.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli, startOriel } from '../../lib/oriel.mjs';
import { chromium, CHROMIUM, CHROMIUM_FLAGS } from '../../lib/chromium.mjs';


export const SCREENSHOTS = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'screenshots');
export const EMAIL = 'ada@example.com';
export const PASSWORD = 'correct horse battery';

/** A server with one dashboard user made through `oriel admin create-user`. */
export async function startWithUser() {
  const oriel = await startOriel({ name: 'dashboard' });
  const { code, stdout, stderr } = await runCli([
    'admin', 'create-user', '--data-dir', oriel.dataDir, '--email', EMAIL, '--password', PASSWORD,
  ]);
  assert.equal(code, 0, `create-user failed: ${stderr}`);
  const user = JSON.parse(stdout.trim());
  assert.equal(user.email, EMAIL);
  return oriel;
}

/** Chromium with a fresh profile; close() removes it. */
export async function launchBrowser() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'oriel-dashboard-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: CHROMIUM_FLAGS,
    headless: true,
    viewport: { width: 1360, height: 900 },
    acceptDownloads: true,
    permissions: ['camera', 'microphone', 'clipboard-read', 'clipboard-write'],
  });
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Signs in through the sign-in page; ends on the spaces page. */
export async function signIn(page, oriel, { email = EMAIL, password = PASSWORD } = {}) {
  await page.goto(`${oriel.baseUrl}/sign-in`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/spaces$/, { timeout: 10_000 });
  await page.getByRole('heading', { level: 1, name: 'Spaces' }).waitFor({ timeout: 10_000 });
}

export async function screenshot(page, name) {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Polls `fn` until it returns a truthy value, for at most `ms`. */
export async function eventually(fn, ms = 10_000, what = 'condition') {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`${what} did not happen within ${ms} ms (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
}

/** Signs in over plain HTTP: returns {cookie, csrf} for API-level tests. */
export async function signInHttp(oriel, { email = EMAIL, password = PASSWORD } = {}) {
  const res = await fetch(`${oriel.baseUrl}/dashboard/api/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  const setCookie = res.headers.get('set-cookie');
  const cookie = setCookie.split(';')[0];
  const body = await res.json();
  return { cookie, csrf: body.data.csrf_token, setCookie };
}
