// A self-signed certificate for 127.0.0.1 and localhost, made with the openssl CLI, for tests
// that serve https/wss: {cert, key} (PEM file paths), `serial` (hex, as Node's
// getPeerCertificate() shows it) and `spki` (base64 SHA-256 of the public key, what Chromium's
// --ignore-certificate-errors-spki-list takes to trust it).

import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export function makeCertificate(dir, name = 'oriel') {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
    '-keyout', key, '-out', cert,
    '-subj', `/CN=${name} test`,
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ], { stdio: 'ignore' });
  const x509 = new crypto.X509Certificate(fs.readFileSync(cert));
  const spki = crypto.createHash('sha256').update(x509.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
  return { cert, key, serial: x509.serialNumber.toUpperCase(), spki };
}
