// https and wss on --listen (--tls-cert/--tls-key): the official @mux/mux-node 7.3.5 over https
// trusting a private CA, a renewed certificate served without a restart, a plain-HTTP client
// turned away without harm, and a certificate that does not load refused at start.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { installFailureLogs, startOriel, httpsGet, ORIEL_BIN } from '../lib/oriel.mjs';
import { makeCertificate } from '../lib/tls-cert.mjs';

installFailureLogs();
const run = promisify(execFile);
const HERE = path.dirname(fileURLToPath(import.meta.url));

let dir;
let first;
let oriel;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oriel-tls-'));
  first = makeCertificate(dir, 'first');
  // Served from files of their own, which the reload test replaces.
  const served = { cert: path.join(dir, 'served.crt'), key: path.join(dir, 'served.key') };
  fs.copyFileSync(first.cert, served.cert);
  fs.copyFileSync(first.key, served.key);
  oriel = await startOriel({ name: 'tls', tls: served });
});

after(async () => {
  await oriel?.stop();
  oriel?.cleanup();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('@mux/mux-node 7.3.5 works over https against a CA the app trusts (NODE_EXTRA_CA_CERTS)', async () => {
  const token = await oriel.createAccessToken('tls');
  const { stdout } = await run(process.execPath, [path.join(HERE, '..', 'lib', 'mux-node-over-https.mjs'), oriel.baseUrl, token.id, token.secret], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: first.cert },
    timeout: 30_000,
  });
  const seen = JSON.parse(stdout.trim().split('\n').pop());
  assert.equal(seen.ok, true, stdout);
  assert.equal(seen.space.passthrough, 'over tls');
  assert.ok(seen.listed.includes(seen.space.id));
  assert.equal(seen.got.id, seen.space.id);
  assert.ok(seen.afterDelete, 'the deleted space is gone');
  assert.match(oriel.baseUrl, /^https:/);
});

test('the signaling WebSocket is wss: a join token is checked over TLS', async () => {
  const ws = new WebSocket(`${oriel.wsUrl}/pluto/v1?token=not.a.jwt`, { ca: fs.readFileSync(first.cert) });
  const frame = await new Promise((resolve, reject) => {
    ws.once('message', (data) => resolve(JSON.parse(data.toString())));
    ws.once('error', reject);
    setTimeout(() => reject(new Error('no frame within 5 s')), 5000);
  });
  ws.terminate();
  assert.ok(frame.error, JSON.stringify(frame));
});

test('a plain-HTTP client on the TLS port gets nothing, and https goes on being served', async () => {
  const plain = await fetch(`http://127.0.0.1:${oriel.port}/healthz`, { signal: AbortSignal.timeout(5000) }).then(
    (r) => `HTTP ${r.status}`,
    (e) => `failed: ${e.cause?.code || e.message}`,
  );
  assert.match(plain, /^failed/);
  const { status } = await httpsGet(`${oriel.baseUrl}/healthz`, fs.readFileSync(first.cert));
  assert.equal(status, 200);
});

test('a renewed certificate is served to new connections without a restart; a bad one is ignored', async () => {
  const second = makeCertificate(dir, 'second');
  const both = Buffer.concat([fs.readFileSync(first.cert), fs.readFileSync(second.cert)]);
  const servedSerial = async () => (await httpsGet(`${oriel.baseUrl}/healthz`, both)).certificate.serialNumber.toUpperCase();
  assert.equal(await servedSerial(), first.serial);
  // A half-written renewal does not replace the working certificate.
  fs.writeFileSync(oriel.tls.cert, '-----BEGIN CERTIFICATE-----\nnot yet\n');
  await new Promise((r) => setTimeout(r, 2500));
  assert.equal(await servedSerial(), first.serial);
  // The complete renewal is picked up within a few seconds.
  fs.copyFileSync(second.key, oriel.tls.key);
  fs.copyFileSync(second.cert, oriel.tls.cert);
  const deadline = Date.now() + 10_000;
  let serial = await servedSerial();
  while (serial !== second.serial && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    serial = await servedSerial();
  }
  assert.equal(serial, second.serial);
  assert.ok(fs.readFileSync(oriel.logFile, 'utf8').includes('keeping the one in use'), 'the bad renewal was logged');
});

test('a certificate that does not load stops the start with a clear error', async () => {
  const other = makeCertificate(dir, 'other');
  const data = fs.mkdtempSync(path.join(dir, 'data-'));
  const child = spawn(ORIEL_BIN, ['serve', '--listen', '127.0.0.1:0', '--data-dir', data, '--media-ip', '127.0.0.1', '--media-port', '0',
    '--tls-cert', first.cert, '--tls-key', other.key], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const code = await new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  assert.notEqual(code, 0, output);
  assert.match(output, /does not fit the certificate/, output);
  // --tls-cert alone is a usage error.
  const alone = await run(ORIEL_BIN, ['serve', '--tls-cert', first.cert]).catch((e) => e);
  assert.notEqual(alone.code, 0);
  assert.match(alone.stderr, /tls-key/);
});
