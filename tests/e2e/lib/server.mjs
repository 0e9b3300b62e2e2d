// The oriel node under test, driven as a black box.
//
//   const server = await startServer();                 // `oriel serve` on free loopback ports
//   const env = await server.environment('e2e');        // access token + Mux client + signing key
//   const space = await env.createSpace();
//   const jwt = env.sign(space.id, { participantId: 'alice', role: 'subscriber' });
//   await server.stop();                                 // SIGTERM
//
// The server's stdout/stderr go to a log file; `server.logTail()` gives its end for diagnostics.

import { spawn, execFile } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
/** @mux/mux-node 7.3.5 (CommonJS): `new Mux(id, secret, {baseUrl})`, `Mux.JWT.signSpaceId`. */
const Mux = require('@mux/mux-node');

export const E2E_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_ROOT = path.resolve(E2E_ROOT, '..', '..');
export const ORIEL_BIN = process.env.ORIEL_BIN || path.join(REPO_ROOT, 'target', 'release', 'oriel');

const HEALTH_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;
const MEDIA_PORTS = 16; // `--media-port P` may use P..P+15

const running = new Set();
process.on('exit', () => {
  for (const s of running) {
    try {
      s.child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freeTcpPort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function udpFree(port) {
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    sock.once('error', () => {
      sock.close();
      resolve(false);
    });
    sock.bind(port, '127.0.0.1', () => sock.close(() => resolve(true)));
  });
}

/** A base UDP port P such that P..P+15 on 127.0.0.1 were free a moment ago. */
async function freeUdpRange() {
  for (let attempt = 0; attempt < 50; attempt++) {
    // 32000..39999: below Linux's ephemeral range, away from tests/api's 20000..31999.
    const base = 32000 + Math.floor(Math.random() * (8000 / MEDIA_PORTS)) * MEDIA_PORTS;
    let ok = true;
    for (let p = base; ok && p < base + MEDIA_PORTS; p++) ok = await udpFree(p);
    if (ok) return base;
  }
  throw new Error('no free UDP port range for --media-port');
}

/** Children get no ORIEL_* variable of ours (they would override the flags). */
function childEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ORIEL_')) env[k] = v;
  return env;
}

function tailOf(file, maxLines) {
  try {
    // The server colours its text log even into a file: strip the ANSI escapes for reading.
    const lines = fs.readFileSync(file, 'utf8').replace(/\x1b\[[0-9;]*m/g, '').split('\n');
    return lines.slice(-maxLines).join('\n');
  } catch (e) {
    return `[cannot read ${file}: ${e.message}]`;
  }
}

/** `tls`: {cert, key} PEM files: the node serves https and wss with them. */
/** `args`: more `oriel serve` flags (e.g. `['--public-ip', '127.0.0.2']`). */
export async function startServer({ name = 'oriel', tls = null, args = [], logFilter = 'info' } = {}) {
  if (!fs.existsSync(ORIEL_BIN)) {
    throw new Error(`oriel binary not found at ${ORIEL_BIN}: run \`cargo build --release\` or set ORIEL_BIN`);
  }
  const server = new OrielServer(name, tls, args, logFilter);
  await server.start();
  return server;
}

export class OrielServer {
  /** `logFilter`: the server's RUST_LOG unless E2E_RUST_LOG is set. */
  constructor(name, tls = null, extraArgs = [], logFilter = 'info') {
    this.name = name;
    this.tls = tls;
    this.extraArgs = extraArgs;
    this.logFilter = logFilter;
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), 'oriel-e2e-'));
    this.dataDir = path.join(this.root, 'data');
    fs.mkdirSync(this.dataDir);
    this.logFile = path.join(this.root, 'server.log');
    fs.writeFileSync(this.logFile, '');
    this.child = null;
  }

  get baseUrl() {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  /** What the SDK needs in `window.MUX_SPACES_BACKEND_URL` (it appends `/v1?...`). */
  get backendUrl() {
    return `${this.tls ? 'wss' : 'ws'}://127.0.0.1:${this.port}/pluto`;
  }

  async start() {
    let lastError;
    for (let attempt = 0; attempt < 3; attempt++) {
      this.port = await freeTcpPort();
      this.mediaPort = await freeUdpRange();
      try {
        await this.#spawn();
        return;
      } catch (e) {
        lastError = e;
        if (!/address (already )?in use|AddrInUse/i.test(tailOf(this.logFile, 50))) break;
      }
    }
    throw lastError;
  }

  async #spawn() {
    const args = [
      'serve',
      '--listen', `127.0.0.1:${this.port}`,
      '--data-dir', this.dataDir,
      // `args` may give another --media-ip (e.g. ::1).
      ...(this.extraArgs.includes('--media-ip') ? [] : ['--media-ip', '127.0.0.1']),
      '--media-port', String(this.mediaPort),
      ...(this.tls ? ['--tls-cert', this.tls.cert, '--tls-key', this.tls.key] : []),
      ...this.extraArgs,
    ];
    fs.appendFileSync(this.logFile, `===== ${new Date().toISOString()} ${ORIEL_BIN} ${args.join(' ')}\n`);
    const out = fs.openSync(this.logFile, 'a');
    const child = spawn(ORIEL_BIN, args, {
      stdio: ['ignore', out, out],
      env: { ...childEnv(), RUST_LOG: process.env.E2E_RUST_LOG || this.logFilter },
    });
    fs.closeSync(out);
    this.child = child;
    running.add(this);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        running.delete(this);
        resolve({ code, signal });
      });
    });
    const deadline = Date.now() + HEALTH_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`${this.name} exited during startup:\n${this.logTail()}`);
      }
      try {
        const res = await fetch(`${this.baseUrl}/healthz`, { signal: AbortSignal.timeout(1000) });
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await sleep(50);
    }
    child.kill('SIGKILL');
    throw new Error(`${this.name} did not answer /healthz within ${HEALTH_TIMEOUT_MS} ms:\n${this.logTail()}`);
  }

  /**
   * Upgrades the node the way the README says: a new `oriel serve` with the same --listen and
   * --data-dir (its own --media-port) binds beside the running one, then the old one gets
   * SIGTERM. Resolves with the old process's exit {code, signal} once it is gone; from then on
   * this object drives the new process.
   */
  async handover() {
    const old = this.child;
    const oldExited = this.exited;
    const serving = () => (tailOf(this.logFile, 100000).match(/oriel is serving/g) || []).length;
    const servingBefore = serving();
    this.mediaPort = await freeUdpRange();
    const args = [
      'serve',
      '--listen', `127.0.0.1:${this.port}`,
      '--data-dir', this.dataDir,
      '--media-ip', '127.0.0.1',
      '--media-port', String(this.mediaPort),
    ];
    fs.appendFileSync(this.logFile, `===== ${new Date().toISOString()} handover: ${ORIEL_BIN} ${args.join(' ')}\n`);
    const out = fs.openSync(this.logFile, 'a');
    const child = spawn(ORIEL_BIN, args, {
      stdio: ['ignore', out, out],
      env: { ...childEnv(), RUST_LOG: process.env.E2E_RUST_LOG || this.logFilter },
    });
    fs.closeSync(out);
    const exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        running.delete(this);
        resolve({ code, signal });
      }),
    );
    // /healthz may be answered by either process: the new one's log says when it serves.
    const deadline = Date.now() + HEALTH_TIMEOUT_MS;
    while (serving() === servingBefore) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the new ${this.name} exited during startup:\n${this.logTail()}`);
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`the new ${this.name} did not start serving within ${HEALTH_TIMEOUT_MS} ms:\n${this.logTail()}`);
      }
      await sleep(50);
    }
    this.child = child;
    this.exited = exited;
    old.kill('SIGTERM');
    const timer = setTimeout(() => old.kill('SIGKILL'), STOP_TIMEOUT_MS);
    const result = await oldExited; // (its exit handler forgot this server: remember the new child)
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) running.add(this);
    return result;
  }

  /** The last lines of the server's log, for failure reports. */
  logTail(lines = 60) {
    return `----- ${this.name} log (${this.logFile}), last ${lines} lines -----\n${tailOf(this.logFile, lines)}`;
  }

  /** SIGTERM, then SIGKILL after 10 s. Resolves with {code, signal}. */
  async stop() {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) {
      return this.exited ? this.exited : { code: null, signal: null };
    }
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    const result = await this.exited;
    clearTimeout(timer);
    return result;
  }

  /** Deletes the data directory and log (call after stop(); the fixture keeps them after a failure). */
  cleanup() {
    fs.rmSync(this.root, { recursive: true, force: true });
  }

  /** `oriel access-token create --data-dir DIR --environment NAME` → {id, secret, environment}. */
  createAccessToken(environment = 'e2e') {
    return new Promise((resolve, reject) => {
      execFile(
        ORIEL_BIN,
        ['access-token', 'create', '--data-dir', this.dataDir, '--environment', environment],
        { env: childEnv(), timeout: 30_000 },
        (error, stdout, stderr) => {
          if (error) return reject(new Error(`access-token create failed: ${error.message}\n${stderr}`));
          try {
            resolve(JSON.parse(stdout.trim().split('\n').pop()));
          } catch (e) {
            reject(new Error(`access-token create printed no JSON: ${stdout}\n${stderr}`));
          }
        },
      );
    });
  }

  /** A plain REST call with HTTP Basic; returns {status, body}. */
  async api(method, urlPath, { token, body } = {}) {
    const headers = { Accept: 'application/json' };
    if (token) headers.Authorization = `Basic ${Buffer.from(`${token.id}:${token.secret}`).toString('base64')}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(`${this.baseUrl}${urlPath}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    let parsed = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body: parsed };
  }

  /**
   * An environment as an application sees it: an access token, the official Node SDK pointed at
   * this server, and one signing key to sign join tokens with.
   */
  async environment(name = 'e2e') {
    const token = await this.createAccessToken(name);
    const mux = new Mux(token.id, token.secret, { baseUrl: this.baseUrl });
    const key = await mux.Video.SigningKeys.create();
    const server = this;
    return {
      name,
      token,
      mux,
      key,
      createSpace: (req = {}) => mux.Video.Spaces.create(req),
      /** GET /video/v1/spaces/ID through plain HTTP Basic (not the SDK), returns the `data`. */
      async getSpace(spaceId) {
        const { status, body } = await server.api('GET', `/video/v1/spaces/${spaceId}`, { token });
        if (status !== 200) throw new Error(`GET space ${spaceId}: HTTP ${status} ${JSON.stringify(body)}`);
        return body.data;
      },
      /**
       * A join token from `Mux.JWT.signSpaceId`. `role` and `participantId` become the
       * `role` / `participant_id` claims (mux-node merges `params` into the payload);
       * `expiration` is a zeit/ms string ('7d' default, '-1h' for an expired token).
       */
      sign(spaceId, { participantId, role, expiration, signingKey = key, extra = {} } = {}) {
        const params = { ...extra };
        if (participantId !== undefined) params.participant_id = participantId;
        if (role !== undefined) params.role = role;
        return Mux.JWT.signSpaceId(spaceId, {
          keyId: signingKey.id,
          keySecret: signingKey.private_key,
          ...(expiration ? { expiration } : {}),
          params,
        });
      },
    };
  }
}

export { Mux };
