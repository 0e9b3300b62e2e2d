// Debian's Chromium driven by playwright-core, and the static HTTP server the participant pages
// are loaded from.
//
//   const browser = await launchBrowser();          // one Chromium (keep them few: 2 cores)
//   const alice = await browser.participant('alice', server.backendUrl);  // own context + page
//   ...
//   await browser.closeParticipants();              // after each test
//   await browser.close();                          // after the file
//
// Each participant is one page in its own browser context (separate cookies/storage/devices),
// with the SDK pointed at oriel through window.MUX_SPACES_BACKEND_URL.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { chromium, CHROMIUM, CHROMIUM_FLAGS } from '../../lib/chromium.mjs';
import { SDK_BUNDLE } from './mux-sdk.mjs';
import { E2E_ROOT } from './server.mjs';
import { Participant } from './participant.mjs';

const PAGE_DIR = path.join(E2E_ROOT, 'lib', 'page');
const FILES = {
  '/': { file: path.join(PAGE_DIR, 'index.html'), type: 'text/html; charset=utf-8' },
  '/index.html': { file: path.join(PAGE_DIR, 'index.html'), type: 'text/html; charset=utf-8' },
  '/pc-tap.js': { file: path.join(PAGE_DIR, 'pc-tap.js'), type: 'text/javascript; charset=utf-8' },
  '/ws-tap.js': { file: path.join(PAGE_DIR, 'ws-tap.js'), type: 'text/javascript; charset=utf-8' },
  '/harness.js': { file: path.join(PAGE_DIR, 'harness.js'), type: 'text/javascript; charset=utf-8' },
  '/mux-spaces.js': { file: SDK_BUNDLE, type: 'text/javascript; charset=utf-8' },
};

/** Serves the participant page, the harness scripts and the unmodified SDK bundle on 127.0.0.1. */
function startStaticServer() {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    const entry = FILES[url.pathname];
    if (req.method !== 'GET' || !entry) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found');
      return;
    }
    res.writeHead(200, { 'Content-Type': entry.type, 'Cache-Control': 'no-store' });
    fs.createReadStream(entry.file).pipe(res);
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
  // playwright-core refuses `--user-data-dir` in args: launch() itself creates a fresh temporary
  // profile directory per browser and deletes it on close(), which is what we want.
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_FLAGS, ...extraArgs],
    timeout: 30_000,
  });
  return new E2EBrowser(browser, statics, pageUrl);
}

class E2EBrowser {
  constructor(browser, statics, pageUrl) {
    this.browser = browser;
    this.statics = statics;
    this.pageUrl = pageUrl;
    this.participants = [];
  }

  /** A participant page in a fresh browser context, its SDK aimed at `backendUrl` (ws://…/pluto). */
  async participant(name, backendUrl, { heliosUrl } = {}) {
    const context = await this.browser.newContext();
    await context.addInitScript(
      ({ backendUrl, heliosUrl }) => {
        window.MUX_SPACES_BACKEND_URL = backendUrl;
        // Without it, submitAcrScore() would read process.env (a ReferenceError in a browser).
        window.MUX_SPACES_HELIOS_URL = heliosUrl;
      },
      { backendUrl, heliosUrl: heliosUrl || backendUrl.replace(/^ws/, 'http').replace(/\/pluto$/, '') },
    );
    const page = await context.newPage();
    const p = new Participant(name, context, page);
    // Tests talk only to loopback: refuse (and record) anything else the page tries to fetch.
    await context.route(/^https?:\/\/(?!127\.0\.0\.1[:/])/, (route) => {
      p.externalRequests.push(route.request().url());
      return route.abort();
    });
    await page.goto(this.pageUrl, { waitUntil: 'load' });
    const ready = await page.evaluate(() => ({
      sdk: typeof window.MuxSpaces === 'object' && typeof window.MuxSpaces.Space === 'function',
      harness: typeof window.oriel === 'object',
      backend: window.MUX_SPACES_BACKEND_URL,
    }));
    if (!ready.sdk || !ready.harness || ready.backend !== backendUrl) {
      throw new Error(`participant page did not load: ${JSON.stringify(ready)}\n${p.diagnostics()}`);
    }
    this.participants.push(p);
    return p;
  }

  /** Everything the participants of this browser saw, for a failure report. */
  diagnostics() {
    return this.participants.map((p) => p.diagnostics()).join('\n');
  }

  async closeParticipants() {
    const ps = this.participants;
    this.participants = [];
    await Promise.all(ps.map((p) => p.close()));
  }

  async close() {
    await this.closeParticipants();
    await this.browser.close().catch(() => {});
    await new Promise((r) => this.statics.close(r));
  }
}
