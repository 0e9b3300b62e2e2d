// Debian's Chromium as every browser test here launches it: playwright-core (installed with
// tests/e2e's packages) and the flags of /work/shared/testing.md ("Launch flags that work here").

import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const TESTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(TESTS, 'e2e', 'package.json'));
export const { chromium } = require('playwright-core');

export const CHROMIUM = process.env.E2E_CHROMIUM || '/usr/bin/chromium';

/** Headless, fake camera and microphone, ICE on loopback, nothing fetched from outside. */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection',
];
