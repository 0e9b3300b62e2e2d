// The unmodified @mux/spaces-web the e2e pages load: its IIFE build, which defines the global
// `MuxSpaces`. Refuses to run on any other version than the one Oriel is checked against.

import fs from 'node:fs';
import path from 'node:path';
import { E2E_ROOT } from './server.mjs';

export const MUX_SDK_VERSION = '1.2.0';

// (The package's "exports" map hides package.json and dist/mux-spaces.js from require.resolve.)
const SDK_DIR = path.join(E2E_ROOT, 'node_modules', '@mux', 'spaces-web');
export const SDK_BUNDLE = path.join(SDK_DIR, 'dist', 'mux-spaces.js');

const installed = JSON.parse(fs.readFileSync(path.join(SDK_DIR, 'package.json'), 'utf8')).version;
if (installed !== MUX_SDK_VERSION) {
  throw new Error(`tests/e2e has @mux/spaces-web ${installed}, not ${MUX_SDK_VERSION}: run npm ci in tests/e2e`);
}
