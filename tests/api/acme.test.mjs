// Automatic certificates (--acme-domain) against a private ACME CA: Pebble, Let's Encrypt's
// test server, on 127.0.0.1 (tests/lib/pebble.mjs). The node orders a certificate for
// oriel.test, answers the CA's TLS-ALPN-01 validation on its own --listen port, serves https
// with the certificate it got, keeps it across a restart (no second order), and refuses to
// start with both --acme-domain and a certificate pair.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { installFailureLogs, OrielServer, freeTcpPort, freeUdpPortRange, httpsGet, ORIEL_BIN } from '../lib/oriel.mjs';
import { startPebble } from '../lib/pebble.mjs';
import { makeCertificate } from '../lib/tls-cert.mjs';

installFailureLogs();
const run = promisify(execFile);
const NAME = 'oriel.test';

let dir;
let pebble;
let oriel;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oriel-acme-'));
  const port = await freeTcpPort();
  pebble = await startPebble({ dir, tlsPort: port });
  oriel = new OrielServer({
    name: 'acme',
    extraArgs: [
      '--acme-domain', NAME,
      '--acme-email', 'ops@oriel.test',
      '--acme-directory', pebble.directory,
      '--acme-ca-file', pebble.serverCa,
    ],
    acmeClient: { ca: await pebble.root(), servername: NAME },
  });
  // The CA validates at the port it was told: keep the one chosen above.
  oriel.port = port;
  oriel.mediaPort = await freeUdpPortRange();
});

after(async () => {
  await oriel?.stop();
  oriel?.cleanup();
  await pebble?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the node orders its certificate, proves the name on --listen and serves https with it', async () => {
  await oriel.start();
  const root = await pebble.root();
  const { status, text, certificate } = await httpsGet(`${oriel.baseUrl}/healthz`, root, 2000, NAME);
  assert.equal(status, 200, text);
  assert.match(certificate.subjectaltname, /DNS:oriel\.test/);
  assert.match(certificate.issuer.CN, /Pebble/i, JSON.stringify(certificate.issuer));
  assert.match(fs.readFileSync(oriel.logFile, 'utf8'), /answered an ACME TLS-ALPN-01 validation/);
  const cached = fs.readdirSync(path.join(oriel.dataDir, 'acme'));
  assert.ok(cached.some((f) => f.startsWith('cached_cert')), `certificate kept under --data-dir/acme: ${cached}`);

  // A restart serves the kept certificate: the same one, with no validation this time.
  const before = certificate.fingerprint256;
  const logBefore = fs.readFileSync(oriel.logFile, 'utf8').length;
  await oriel.restart();
  const again = await httpsGet(`${oriel.baseUrl}/healthz`, root, 2000, NAME);
  assert.equal(again.status, 200);
  assert.equal(again.certificate.fingerprint256, before, 'the kept certificate');
  const logAfter = fs.readFileSync(oriel.logFile, 'utf8').slice(logBefore);
  assert.doesNotMatch(logAfter, /answered an ACME TLS-ALPN-01 validation/, 'no second order');
});

test('--acme-domain with --tls-cert and --tls-key is refused at start with a clear error', async () => {
  const pair = makeCertificate(dir, 'both');
  const error = await run(ORIEL_BIN, [
    'serve', '--listen', `127.0.0.1:${await freeTcpPort()}`, '--data-dir', path.join(dir, 'both-data'),
    '--acme-domain', NAME, '--tls-cert', pair.cert, '--tls-key', pair.key,
  ], { timeout: 20_000 }).then(() => null, (e) => e);
  assert.ok(error, 'oriel serve must fail');
  assert.notEqual(error.code, 0);
  assert.match(error.stderr, /--acme-domain gets the certificate itself/);
});
