// The participant pages of tests/e2e, on either SDK: Oriel's (the script the server under test
// serves at /sdk/spaces.js, aliased to the global `MuxSpaces` that the e2e harness drives) or
// the unmodified @mux/spaces-web 1.2.0. Same exports as tests/e2e/lib/browser.mjs, so that
// tests/sdk/lib/use-oriel-sdk.mjs can substitute this module for it and run the scenario files
// of tests/e2e unchanged.
//
// Which SDK a participant page loads:
//   browser.participant(name, backendUrl, { sdk: 'oriel' | 'mux' })   explicit, or else
//   ORIEL_E2E_SDK=oriel (default) | mux | mixed                       mixed: alternates, oriel first
//
// The page also loads lib/page/signal-control.js (window.__orielSignal.block()/unblock(): new
// signaling sockets fail to open while blocked), to test reconnection attempts, and
// lib/page/capture-space.js (window.__spaces: the Space objects the harness made).

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, CHROMIUM, CHROMIUM_FLAGS } from '../../lib/chromium.mjs';
import { E2E_ROOT } from '../../e2e/lib/server.mjs';
import { Participant } from '../../e2e/lib/participant.mjs';
import { SDK_BUNDLE } from '../../e2e/lib/mux-sdk.mjs';

const E2E_PAGE = path.join(E2E_ROOT, 'lib', 'page');
const OWN_PAGE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'page');
const JS = 'text/javascript; charset=utf-8';
const FILES = {
  '/pc-tap.js': path.join(E2E_PAGE, 'pc-tap.js'),
  '/ws-tap.js': path.join(E2E_PAGE, 'ws-tap.js'),
  '/harness.js': path.join(E2E_PAGE, 'harness.js'),
  '/mux-spaces.js': SDK_BUNDLE,
  '/signal-control.js': path.join(OWN_PAGE, 'signal-control.js'),
  '/capture-space.js': path.join(OWN_PAGE, 'capture-space.js'),
};

/** The participant page for one SDK; `server` is the oriel under test (http://127.0.0.1:PORT). */
function indexHtml(sdk, server) {
  const sdkTags =
    sdk === 'mux'
      ? '<script src="/mux-spaces.js"></script>'
      : `<script src="${server}/sdk/spaces.js"></script>\n<script>window.MuxSpaces = window.OrielSpaces;</script>`;
  return `<!doctype html>
<html>
<head>
<meta charset="utf-8">
<title>oriel e2e participant (${sdk})</title>
<script>window.__orielSdk = ${JSON.stringify(sdk)};</script>
<script src="/pc-tap.js"></script>
<script src="/ws-tap.js"></script>
<script src="/signal-control.js"></script>
${sdkTags}
<script src="/capture-space.js"></script>
<script src="/harness.js"></script>
</head>
<body>
<div id="media"></div>
</body>
</html>
`;
}

function startStaticServer() {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    if (req.method === 'GET' && (url.pathname === '/' || url.pathname === '/index.html')) {
      const sdk = url.searchParams.get('sdk') === 'mux' ? 'mux' : 'oriel';
      const oriel = url.searchParams.get('server') || '';
      if (!/^https?:\/\/127\.0\.0\.1:\d+$/.test(oriel)) {
        res.writeHead(400, { 'Content-Type': 'text/plain' });
        res.end('server= must be http(s)://127.0.0.1:PORT');
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end(indexHtml(sdk, oriel));
      return;
    }
    const file = FILES[url.pathname];
    if (req.method !== 'GET' || !file) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found');
      return;
    }
    res.writeHead(200, { 'Content-Type': JS, 'Cache-Control': 'no-store' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

/** `extraArgs`: more Chromium flags (e.g. `--use-file-for-fake-audio-capture=FILE`). */
export async function launchBrowser({ extraArgs = [] } = {}) {
  const statics = await startStaticServer();
  const pageUrl = `http://127.0.0.1:${statics.address().port}/`;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_FLAGS, ...extraArgs],
    timeout: 30_000,
  });
  return new E2EBrowser(browser, statics, pageUrl);
}

const MODE = (process.env.ORIEL_E2E_SDK || 'oriel').toLowerCase();
if (!['oriel', 'mux', 'mixed'].includes(MODE)) throw new Error(`ORIEL_E2E_SDK must be oriel, mux or mixed, not ${MODE}`);
let mixedCounter = 0;

/** The SDK of the next participant page when the test does not say. */
export function defaultSdk() {
  if (MODE === 'mixed') return mixedCounter++ % 2 === 0 ? 'oriel' : 'mux';
  return MODE;
}

class E2EBrowser {
  constructor(browser, statics, pageUrl) {
    this.browser = browser;
    this.statics = statics;
    this.pageUrl = pageUrl;
    this.participants = [];
    this.contexts = [];
  }

  /**
   * A fresh browser context that may talk to loopback only (anything else is refused and
   * recorded in `blocked`).
   */
  async context(options = {}) {
    const context = await this.browser.newContext(options);
    context.blocked = [];
    await context.route(/^(https?|wss?):\/\/(?!127\.0\.0\.1[:/])/, (route) => {
      context.blocked.push(route.request().url());
      return route.abort();
    });
    this.contexts.push(context);
    return context;
  }

  /** A participant page on `sdk` (see the top of this file), aimed at `backendUrl` (ws://…/pluto). */
  async participant(name, backendUrl, { heliosUrl, sdk = defaultSdk() } = {}) {
    const server = backendUrl.replace(/^ws/, 'http').replace(/\/pluto$/, '');
    const context = await this.browser.newContext();
    await context.addInitScript(
      ({ backendUrl, heliosUrl }) => {
        window.MUX_SPACES_BACKEND_URL = backendUrl;
        window.MUX_SPACES_HELIOS_URL = heliosUrl;
      },
      { backendUrl, heliosUrl: heliosUrl || server },
    );
    const page = await context.newPage();
    const p = new Participant(name, context, page);
    p.sdk = sdk;
    await context.route(/^https?:\/\/(?!127\.0\.0\.1[:/])/, (route) => {
      p.externalRequests.push(route.request().url());
      return route.abort();
    });
    await page.goto(`${this.pageUrl}?sdk=${sdk}&server=${encodeURIComponent(server)}`, { waitUntil: 'load' });
    const ready = await page.evaluate(() => ({
      sdk: typeof window.MuxSpaces === 'object' && typeof window.MuxSpaces.Space === 'function',
      oriel: typeof window.OrielSpaces === 'object',
      harness: typeof window.oriel === 'object',
      backend: window.MUX_SPACES_BACKEND_URL,
    }));
    if (!ready.sdk || !ready.harness || ready.backend !== backendUrl || ready.oriel !== (sdk === 'oriel')) {
      throw new Error(`participant page (${sdk}) did not load: ${JSON.stringify(ready)}\n${p.diagnostics()}`);
    }
    this.participants.push(p);
    return p;
  }

  diagnostics() {
    return this.participants.map((p) => p.diagnostics()).join('\n');
  }

  async closeParticipants() {
    const ps = this.participants;
    this.participants = [];
    const contexts = this.contexts;
    this.contexts = [];
    await Promise.all([...ps.map((p) => p.close()), ...contexts.map((c) => c.close().catch(() => {}))]);
  }

  async close() {
    await this.closeParticipants();
    await this.browser.close().catch(() => {});
    await new Promise((r) => this.statics.close(r));
  }
}
