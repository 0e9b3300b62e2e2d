// A private ACME CA for tests: Let's Encrypt's Pebble (Debian `pebble`) on 127.0.0.1, with
// pebble-challtestsrv as its DNS answering every name with 127.0.0.1, so that a TLS-ALPN-01
// validation of any name connects to 127.0.0.1:`tlsPort`, the node under test.
//
//   const ca = await startPebble({ dir, tlsPort });
//   ca.directory     // the ACME directory URL (https, served with ca.serverCa's certificate)
//   ca.serverCa      // PEM path of the certificate Pebble's own https listener uses
//   await ca.root()  // PEM of the root the certificates it issues chain to
//   await ca.stop()  // both processes, by PID

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freeTcpPort, httpsGet, sleep } from './oriel.mjs';

const START_TIMEOUT_MS = 15_000;

export async function startPebble({ dir, tlsPort }) {
  const [listen, management, dns, dnsManagement, http01] = await Promise.all(
    Array.from({ length: 5 }, () => freeTcpPort()),
  );
  const served = caAndLeaf(dir);
  const config = path.join(dir, 'pebble.json');
  fs.writeFileSync(config, JSON.stringify({
    pebble: {
      listenAddress: `127.0.0.1:${listen}`,
      managementListenAddress: `127.0.0.1:${management}`,
      certificate: served.cert,
      privateKey: served.key,
      httpPort: http01,
      tlsPort,
      ocspResponderURL: '',
      externalAccountBindingRequired: false,
    },
  }));
  const log = fs.openSync(path.join(dir, 'pebble.log'), 'a');
  const dnsServer = spawn('pebble-challtestsrv', [
    '-dns01', `127.0.0.1:${dns}`, '-management', `127.0.0.1:${dnsManagement}`,
    '-http01', '', '-https01', '', '-tlsalpn01', '',
    '-defaultIPv4', '127.0.0.1', '-defaultIPv6', '',
  ], { stdio: ['ignore', log, log] });
  const pebble = spawn('pebble', ['-config', config, '-dnsserver', `127.0.0.1:${dns}`], {
    stdio: ['ignore', log, log],
    // No random waits before validating, no random badNonce refusals: a test wants one path.
    env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' },
  });
  fs.closeSync(log);
  const ca = fs.readFileSync(served.ca);
  const directory = `https://127.0.0.1:${listen}/dir`;
  const stop = async () => {
    for (const child of [pebble, dnsServer]) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await new Promise((resolve) => child.once('exit', resolve));
      }
    }
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    try {
      if ((await httpsGet(directory, ca)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || pebble.exitCode !== null) {
      await stop();
      throw new Error(`pebble did not serve ${directory}: ${fs.readFileSync(path.join(dir, 'pebble.log'), 'utf8')}`);
    }
    await sleep(100);
  }
  return {
    directory,
    serverCa: served.ca,
    async root() {
      const { status, text } = await httpsGet(`https://127.0.0.1:${management}/roots/0`, ca);
      if (status !== 200) throw new Error(`pebble's root: ${status} ${text}`);
      return text;
    },
    stop,
  };
}

/**
 * A CA and a certificate it signs for 127.0.0.1, for Pebble's own https listener: rustls (the
 * node's ACME client) refuses a self-signed CA certificate used as a server's.
 */
function caAndLeaf(dir) {
  const file = (name) => path.join(dir, `pebble-${name}`);
  const openssl = (...args) => execFileSync('openssl', args, { stdio: 'ignore' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=pebble test CA',
    '-keyout', file('ca.key'), '-out', file('ca.crt'));
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', file('leaf.key'), '-out', file('leaf.csr'));
  fs.writeFileSync(file('leaf.ext'), [
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
    'basicConstraints=CA:FALSE',
    'keyUsage=digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
  ].join('\n'));
  openssl('x509', '-req', '-in', file('leaf.csr'), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-CAcreateserial',
    '-days', '2', '-extfile', file('leaf.ext'), '-out', file('leaf.crt'));
  return { ca: file('ca.crt'), cert: file('leaf.crt'), key: file('leaf.key') };
}
