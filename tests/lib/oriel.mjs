// Test helpers that drive the real `oriel` binary.
//
// Every test file starts its own server(s) on free loopback ports with a fresh data directory:
//
//   const oriel = await startOriel();            // spawns `oriel serve ...`, waits for /healthz
//   const tok = await oriel.createAccessToken('development');
//   const res = await oriel.api('POST', '/video/v1/spaces', { token: tok, body: {} });
//   await oriel.restart();                       // same data dir
//   await oriel.stop();                          // SIGTERM, asserts a graceful exit (code 0)
//
// Server output (stdout and stderr) goes to a log file; `installFailureLogs()` prints the part
// written during a test when that test fails.

import { spawn, execFile, execFileSync } from 'node:child_process';
import { afterEach, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ORIEL_BIN = process.env.ORIEL_BIN || path.join(REPO_ROOT, 'target', 'release', 'oriel');

/**
 * A PostgreSQL superuser's URL (scripts/lib/test-postgres.sh starts a private server): when
 * set, every server keeps its state in a fresh database there (`--database-url`) instead of
 * SQLite under its data dir, and its CLI calls use that database too.
 */
export const TEST_DATABASE_URL = process.env.ORIEL_TEST_DATABASE_URL || '';

/** A new, empty database on the TEST_DATABASE_URL server; returns its URL. */
export function createTestDatabase() {
  if (!TEST_DATABASE_URL) throw new Error('ORIEL_TEST_DATABASE_URL is not set');
  const name = `oriel_api_${crypto.randomBytes(8).toString('hex')}`;
  execFileSync('psql', [TEST_DATABASE_URL, '-v', 'ON_ERROR_STOP=1', '-q', '-c', `CREATE DATABASE "${name}"`], {
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 30_000,
  });
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

const HEALTH_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;
const CLI_TIMEOUT_MS = 30_000;

/** Every server started in this process, so that logs can be shown and nothing is left running. */
const servers = new Set();

process.on('exit', () => {
  for (const s of servers) {
    if (s.child && s.child.exitCode === null && s.child.signalCode === null) {
      try {
        s.child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  }
});

// ---------------------------------------------------------------------------------------------
// ports

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freeTcpPort() {
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

function udpBindable(port) {
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    sock.once('error', () => {
      sock.close();
      resolve(false);
    });
    sock.bind(port, '127.0.0.1', () => sock.close(() => resolve(true)));
  });
}

/** A base UDP port P on 127.0.0.1 such that P..P+15 were all free a moment ago (media workers). */
export async function freeUdpPortRange(count = 16) {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + crypto.randomInt(0, 12000 / count) * count; // 20000..31999, below ephemeral
    let ok = true;
    for (let p = base; p < base + count && ok; p++) ok = await udpBindable(p);
    if (ok) return base;
  }
  throw new Error('no free UDP port range found for --media-port');
}

// ---------------------------------------------------------------------------------------------
// child environment

/** The environment for children: no ORIEL_* variable of the caller leaks into a test server. */
function childEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('ORIEL_')) env[k] = v;
  }
  return { ...env, ...extra };
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** Like sleep(), but the timer does not keep the process alive (for timeouts in races). */
function unrefSleep(ms) {
  return new Promise((r) => setTimeout(r, ms).unref());
}

function readFrom(file, offset, maxBytes = 64 * 1024) {
  try {
    const size = fs.statSync(file).size;
    const start = Math.max(offset, size - maxBytes);
    const fd = fs.openSync(file, 'r');
    const buf = Buffer.alloc(size - start);
    fs.readSync(fd, buf, 0, buf.length, start);
    fs.closeSync(fd);
    const prefix = start > offset ? `[... ${start - offset} earlier bytes cut ...]\n` : '';
    return prefix + buf.toString('utf8');
  } catch (e) {
    return `[could not read ${file}: ${e.message}]`;
  }
}

function fileSize(file) {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------------------------------------
// the server

let serverCounter = 0;

export class OrielServer {
  /**
   * extraArgs: more `oriel serve` flags; env: more environment variables for the server;
   * viaEnv: pass listen/data-dir/media settings as ORIEL_* variables instead of flags.
   * tls: {cert, key} PEM files (the certificate is also the CA trusted here): serve https/wss.
   * acmeClient: {ca (PEM), servername}: the server gets its certificate itself (ACME flags in
   *   extraArgs); it is healthy once /healthz answers over https for that name and CA.
   * databaseUrl: keep the state in this PostgreSQL database (several servers may share one);
   *   by default a fresh one when ORIEL_TEST_DATABASE_URL is set, else SQLite in the data dir.
   */
  constructor({ extraArgs = [], env = {}, name, viaEnv = false, tls = null, acmeClient = null, databaseUrl } = {}) {
    serverCounter += 1;
    this.name = name || `oriel#${serverCounter}`;
    this.extraArgs = extraArgs;
    this.extraEnv = env;
    this.viaEnv = viaEnv;
    this.tls = tls;
    this.acmeClient = acmeClient;
    this.databaseUrl = databaseUrl ?? (TEST_DATABASE_URL ? createTestDatabase() : null);
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), 'oriel-test-'));
    this.dataDir = path.join(this.root, 'data');
    fs.mkdirSync(this.dataDir);
    this.logFile = path.join(this.root, 'server.log');
    fs.writeFileSync(this.logFile, '');
    this.child = null;
    this.port = null;
    this.mediaPort = null;
    this.failed = false;
    this.testLogOffset = 0;
    servers.add(this);
  }

  /** Where the CLI finds this server's state: its data dir, and its database if it has one. */
  get storeArgs() {
    return ['--data-dir', this.dataDir, ...(this.databaseUrl ? ['--database-url', this.databaseUrl] : [])];
  }

  get baseUrl() {
    return `${this.tls || this.acmeClient ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  get wsUrl() {
    return `${this.tls || this.acmeClient ? 'wss' : 'ws'}://127.0.0.1:${this.port}`;
  }

  /** Starts `oriel serve` and waits until GET /healthz answers 200. Retries on a port clash. */
  async start() {
    if (!fs.existsSync(ORIEL_BIN)) {
      throw new Error(
        `oriel binary not found at ${ORIEL_BIN}: run \`cargo build --release\` first or set ORIEL_BIN`,
      );
    }
    let lastErr;
    for (let attempt = 0; attempt < 3; attempt++) {
      if (this.port === null || attempt > 0) {
        this.port = await freeTcpPort();
        this.mediaPort = await freeUdpPortRange();
      }
      try {
        await this.#spawnAndWait();
        return this;
      } catch (e) {
        lastErr = e;
        const log = readFrom(this.logFile, 0);
        if (!/address (already )?in use|AddrInUse/i.test(log)) break;
      }
    }
    throw lastErr;
  }

  async #spawnAndWait() {
    const settings = {
      ORIEL_LISTEN: `127.0.0.1:${this.port}`,
      ORIEL_DATA_DIR: this.dataDir,
      ORIEL_MEDIA_IP: '127.0.0.1',
      ORIEL_MEDIA_PORT: String(this.mediaPort),
      ...(this.databaseUrl ? { ORIEL_DATABASE_URL: this.databaseUrl } : {}),
    };
    const args = this.viaEnv
      ? ['serve', ...this.extraArgs]
      : [
          'serve',
          '--listen', settings.ORIEL_LISTEN,
          '--data-dir', settings.ORIEL_DATA_DIR,
          '--media-ip', settings.ORIEL_MEDIA_IP,
          '--media-port', settings.ORIEL_MEDIA_PORT,
          ...(this.databaseUrl ? ['--database-url', this.databaseUrl] : []),
          ...(this.tls ? ['--tls-cert', this.tls.cert, '--tls-key', this.tls.key] : []),
          ...this.extraArgs,
        ];
    const env = childEnv({ ...(this.viaEnv ? settings : {}), ...this.extraEnv });
    const logStart = fileSize(this.logFile);
    const shownEnv = this.viaEnv ? `${Object.entries(settings).map(([k, v]) => `${k}=${v}`).join(' ')} ` : '';
    fs.appendFileSync(this.logFile, `\n===== ${new Date().toISOString()} ${shownEnv}${ORIEL_BIN} ${args.join(' ')}\n`);
    const out = fs.openSync(this.logFile, 'a');
    const child = spawn(ORIEL_BIN, args, {
      stdio: ['ignore', out, out],
      env,
    });
    fs.closeSync(out);
    this.child = child;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    let spawnError = null;
    child.once('error', (e) => {
      spawnError = e;
    });

    const deadline = Date.now() + HEALTH_TIMEOUT_MS;
    let lastProblem = 'no answer yet';
    while (Date.now() < deadline) {
      if (spawnError) throw new Error(`${this.name}: could not spawn ${ORIEL_BIN}: ${spawnError.message}`);
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(
          `${this.name}: oriel exited before it was healthy (code ${child.exitCode}, signal ${child.signalCode})\n` +
            `----- server log -----\n${readFrom(this.logFile, logStart)}`,
        );
      }
      try {
        const { status, text } = this.acmeClient
          ? await httpsGet(`${this.baseUrl}/healthz`, this.acmeClient.ca, 2000, this.acmeClient.servername)
          : this.tls
          ? await httpsGet(`${this.baseUrl}/healthz`, fs.readFileSync(this.tls.cert))
          : await fetch(`${this.baseUrl}/healthz`, { signal: AbortSignal.timeout(1000) }).then(async (r) => ({ status: r.status, text: await r.text() }));
        if (status === 200) return;
        lastProblem = `GET /healthz answered ${status}: ${text.slice(0, 200)}`;
      } catch (e) {
        lastProblem = `GET /healthz failed: ${e.cause?.code || e.message}`;
      }
      await sleep(100);
    }
    child.kill('SIGKILL');
    await this.exited;
    throw new Error(
      `${this.name}: not healthy within ${HEALTH_TIMEOUT_MS} ms (${lastProblem})\n` +
        `----- server log -----\n${readFrom(this.logFile, logStart)}`,
    );
  }

  /** SIGTERM (or `signal`), wait for the exit, and assert that it was graceful (exit code 0). */
  async stop(signal = 'SIGTERM') {
    const child = this.child;
    if (!child) return;
    this.child = null;
    if (child.exitCode !== null || child.signalCode !== null) {
      assert.fail(
        `${this.name}: oriel had already exited (code ${child.exitCode}, signal ${child.signalCode}) before stop()\n` +
          readFrom(this.logFile, 0),
      );
    }
    child.kill(signal);
    const timer = unrefSleep(STOP_TIMEOUT_MS).then(() => 'timeout');
    const result = await Promise.race([this.exited, timer]);
    if (result === 'timeout') {
      child.kill('SIGKILL');
      await this.exited;
      assert.fail(`${this.name}: oriel did not exit within ${STOP_TIMEOUT_MS} ms of ${signal}`);
    }
    assert.deepEqual(
      result,
      { code: 0, signal: null },
      `${this.name}: graceful shutdown on ${signal} must exit with code 0`,
    );
  }

  /** Stop (gracefully) and start again on the same data dir and the same ports. */
  async restart() {
    await this.stop();
    await this.start();
    return this;
  }

  /** Kill without asserting anything (for cleanup after a failure). */
  async kill() {
    const child = this.child;
    this.child = null;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await this.exited;
    }
  }

  /** Removes the temporary directory unless a test failed (then it is kept for a post-mortem). */
  cleanup() {
    servers.delete(this);
    if (this.failed) {
      process.stderr.write(`[${this.name}] kept ${this.root} (data dir and server.log) because a test failed\n`);
      return;
    }
    fs.rmSync(this.root, { recursive: true, force: true });
  }

  /** `oriel access-token create --data-dir DIR --environment NAME` → {id, secret, environment:{id,name}} */
  async createAccessToken(environment) {
    const args = ['access-token', 'create', ...this.storeArgs, '--environment', environment];
    const { stdout, stderr, code } = await runCli(args);
    assert.equal(code, 0, `oriel ${args.join(' ')} exited ${code}\nstdout: ${stdout}\nstderr: ${stderr}`);
    let obj;
    try {
      obj = JSON.parse(stdout.trim());
    } catch (e) {
      assert.fail(`access-token create must print one JSON object on stdout, got: ${JSON.stringify(stdout)} (${e.message})`);
    }
    assert.equal(typeof obj, 'object');
    assert.equal(typeof obj.id, 'string', 'token id');
    assert.ok(obj.id.length > 0);
    assert.equal(typeof obj.secret, 'string', 'token secret');
    assert.ok(obj.secret.length > 0);
    assert.equal(typeof obj.environment?.id, 'string', 'environment.id');
    assert.equal(obj.environment.name, environment, 'environment.name');
    return obj;
  }

  /** fetch helper: returns {status, headers, json, text}. `token` is {id, secret} or null. */
  api(method, urlPath, opts = {}) {
    return request(this.baseUrl, method, urlPath, opts);
  }

  /** Opens ws://.../pluto/v1?token=... the way @mux/spaces-web 1.2.0 does. */
  openPluto(token, opts = {}) {
    return openPluto(this.wsUrl, token, opts);
  }

  /** The join succeeds: the first frame is {"joined": {...}}. Returns {ws, joined, messages, close()}. */
  expectJoined(token, opts = {}) {
    return expectJoined(this.wsUrl, token, opts);
  }

  /** The join is refused: one error frame {"error":{"type":6,...,"fatal":true}}, then close code 4000. */
  expectRefused(token, opts = {}) {
    return expectRefused(this.wsUrl, token, opts);
  }
}

/** Starts a server; see OrielServer. Options: {extraArgs: [...], env: {...}, name}. */
export async function startOriel(opts = {}) {
  const s = new OrielServer(opts);
  await s.start();
  return s;
}

/**
 * Registers top-level hooks in the calling test file: when a test fails, print what each server
 * of this process logged during that test, and mark the servers so that cleanup() keeps their
 * temp dirs. Servers still running when the process exits are killed.
 */
export function installFailureLogs() {
  beforeEach(() => {
    for (const s of servers) s.testLogOffset = fileSize(s.logFile);
  });
  afterEach((t) => {
    if (t.passed) return;
    for (const s of servers) {
      s.failed = true;
      const text = readFrom(s.logFile, s.testLogOffset);
      process.stderr.write(
        `\n----- ${s.name} log during failed test "${t.name}" (${s.logFile}) -----\n${text}\n----- end of ${s.name} log -----\n`,
      );
    }
  });
}

export function runCli(args, { timeoutMs = CLI_TIMEOUT_MS, env = {} } = {}) {
  return new Promise((resolve) => {
    execFile(
      ORIEL_BIN,
      args,
      { env: childEnv(env), timeout: timeoutMs, maxBuffer: 1 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : err.signal || err.code) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

// ---------------------------------------------------------------------------------------------
// HTTP

export function basicAuth(token) {
  return 'Basic ' + Buffer.from(`${token.id}:${token.secret}`).toString('base64');
}

/**
 * request(baseUrl, method, path, {token, body, rawBody, headers})
 *   token:   {id, secret} → HTTP Basic; null/undefined → no Authorization header
 *   body:    any JSON value, sent with Content-Type: application/json
 *   rawBody: string/Buffer sent as is (set your own content-type in headers)
 * Returns {status, headers (Headers), json (parsed or null), text}.
 */
/**
 * GET over https trusting `ca` (PEM), naming `servername` in SNI and checking the certificate
 * against it when given: {status, text, certificate (the server's, as Node shows it)}.
 */
export function httpsGet(url, ca, timeoutMs = 2000, servername = undefined) {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, servername, agent: false, timeout: timeoutMs }, (res) => {
      const certificate = res.socket.getPeerCertificate();
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, text, certificate }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

export async function request(baseUrl, method, urlPath, { token, body, rawBody, headers = {} } = {}) {
  const h = { accept: 'application/json', ...headers };
  if (token) h.authorization = basicAuth(token);
  let payload;
  if (rawBody !== undefined) {
    payload = rawBody;
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['content-type'] = 'application/json';
  }
  const res = await fetch(baseUrl + urlPath, {
    method,
    headers: h,
    body: payload,
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  let json = null;
  if (text.length > 0) {
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
  }
  return { status: res.status, headers: res.headers, json, text };
}

/**
 * Sends only the headers of a request with a large body, the way curl does for bodies over
 * 1 MB: `Content-Length` plus `Expect: 100-continue`. Resolves with the server's final answer
 * ({status, headers, json, text, continued: false}), or with {status: 100, continued: true}
 * if the server asked for the body instead (the body is then not sent).
 *
 * A server that refuses large bodies should do so from Content-Length, before reading: once it
 * has asked for and partly read a body it refuses, its answer races with the TCP reset of the
 * unread rest, and clients often see a reset instead of the 413.
 */
export function requestExpectContinue(baseUrl, method, urlPath, { token, contentLength, headers = {} } = {}) {
  const h = { host: new URL(baseUrl).host, accept: 'application/json', ...headers };
  if (token) h.authorization = basicAuth(token);
  h.expect = '100-continue';
  h['content-length'] = String(contentLength);
  const head = `${method} ${urlPath} HTTP/1.1\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    let done = false;
    const sock = net.connect(Number(url.port), url.hostname, () => sock.write(head));
    const timer = setTimeout(() => finish(new Error('no answer within 10 s')), 10_000);
    function finish(err, result) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(new Error(`${method} ${urlPath}: ${err.message}`));
      else resolve(result);
    }
    function parse() {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return null;
      const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number(lines[0].split(' ')[1]);
      if (status === 100) return { status, continued: true, headers: new Headers(), json: null, text: '' };
      const hdrs = new Headers();
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        if (i > 0) hdrs.append(l.slice(0, i).trim(), l.slice(i + 1).trim());
      }
      const len = Number(hdrs.get('content-length') ?? NaN);
      const rest = buf.subarray(end + 4);
      if (Number.isFinite(len) ? rest.length < len : !sock.readableEnded) return null;
      const text = (Number.isFinite(len) ? rest.subarray(0, len) : rest).toString('utf8');
      let json = null;
      try {
        json = text ? JSON.parse(text) : null;
      } catch {
        json = null;
      }
      return { status, headers: hdrs, json, text, continued: false };
    }
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const r = parse();
      if (r) finish(null, r);
    });
    sock.on('end', () => {
      const r = parse();
      if (r) finish(null, r);
      else finish(new Error(`closed without a complete answer: ${JSON.stringify(buf.toString('latin1').slice(0, 200))}`));
    });
    sock.on('error', (e) => finish(e));
  });
}

/** Short description of a response for assertion messages. */
export function describe(res) {
  return `HTTP ${res.status} content-type=${res.headers.get('content-type')} body=${res.text.slice(0, 500)}`;
}

/** Asserts the Mux error envelope: JSON content type, {"error":{"type":TYPE,"messages":[strings, ≥1]}}. */
export function assertErrorEnvelope(res, status, type) {
  const what = describe(res);
  if (status !== undefined) assert.equal(res.status, status, `expected HTTP ${status}, got ${what}`);
  assert.match(res.headers.get('content-type') || '', /^application\/json/i, `error must be JSON: ${what}`);
  assert.ok(res.json && typeof res.json === 'object', `error body must be a JSON object: ${what}`);
  assert.ok(res.json.error && typeof res.json.error === 'object', `missing "error" object: ${what}`);
  if (type !== undefined) assert.equal(res.json.error.type, type, `error.type: ${what}`);
  else assert.equal(typeof res.json.error.type, 'string', `error.type must be a string: ${what}`);
  assert.ok(Array.isArray(res.json.error.messages), `error.messages must be an array: ${what}`);
  assert.ok(res.json.error.messages.length > 0, `error.messages must not be empty: ${what}`);
  for (const m of res.json.error.messages) {
    assert.equal(typeof m, 'string', `error.messages must hold strings: ${what}`);
    assert.ok(m.length > 0, `error messages must not be empty strings: ${what}`);
  }
}

/** Asserts status and returns json.data. */
export function dataOf(res, status = 200) {
  assert.equal(res.status, status, `expected HTTP ${status}, got ${describe(res)}`);
  assert.ok(res.json && 'data' in res.json, `expected {"data": ...}: ${describe(res)}`);
  return res.json.data;
}

// ---------------------------------------------------------------------------------------------
// Mux objects

export function assertSpace(space, { passthrough, status = 'idle' } = {}) {
  const s = JSON.stringify(space);
  assert.equal(typeof space.id, 'string', `space.id: ${s}`);
  assert.ok(space.id.length > 0 && space.id.length <= 255, `space.id length: ${s}`);
  assert.equal(typeof space.created_at, 'string', `created_at must be a string: ${s}`);
  assert.match(space.created_at, /^\d+$/, `created_at must be unix seconds: ${s}`);
  const age = Math.abs(Date.now() / 1000 - Number(space.created_at));
  assert.ok(age < 3600, `created_at must be about now: ${s}`);
  assert.equal(space.type, 'server', `type: ${s}`);
  assert.equal(space.status, status, `status: ${s}`);
  if (passthrough === undefined) {
    assert.ok(!('passthrough' in space) || space.passthrough === undefined, `passthrough must be omitted when not set: ${s}`);
  } else {
    assert.equal(space.passthrough, passthrough, `passthrough: ${s}`);
  }
  if (status === 'idle') assert.ok(!('active_session_id' in space), `active_session_id only while active: ${s}`);
}

export function assertSigningKey(key, { withPrivateKey = false } = {}) {
  const s = JSON.stringify(key);
  assert.equal(typeof key.id, 'string', `signing key id: ${s}`);
  assert.ok(key.id.length > 0);
  assert.equal(typeof key.created_at, 'string', `created_at must be a string: ${s}`);
  assert.match(key.created_at, /^\d+$/, `created_at must be unix seconds: ${s}`);
  if (withPrivateKey) {
    assert.equal(typeof key.private_key, 'string', 'private_key on create');
    const pem = Buffer.from(key.private_key, 'base64').toString('utf8');
    assert.match(
      pem,
      /^-----BEGIN RSA PRIVATE KEY-----\r?\n/,
      'private_key is base64 of a PKCS#1 PEM ("-----BEGIN RSA PRIVATE KEY-----"), as Mux returned it',
    );
    const pk = crypto.createPrivateKey(pem);
    assert.equal(pk.asymmetricKeyType, 'rsa');
    assert.equal(pk.asymmetricKeyDetails.modulusLength, 2048, 'a 2048-bit RSA key');
  } else {
    assert.ok(!('private_key' in key), `private_key must only be returned at creation: ${s}`);
  }
}

// ---------------------------------------------------------------------------------------------
// join tokens built by hand

export function b64url(input) {
  return Buffer.from(typeof input === 'string' ? input : JSON.stringify(input)).toString('base64url');
}

/** PEM text of a signing key's private key (from the `private_key` of the create response). */
export function privatePem(signingKey) {
  return Buffer.from(signingKey.private_key, 'base64').toString('utf8');
}

/** header.payload.signature, RS256 with the given signing key (object with private_key). */
export function signRS256(header, payload, signingKey) {
  const input = `${b64url(header)}.${b64url(payload)}`;
  const sig = crypto.sign('RSA-SHA256', Buffer.from(input), privatePem(signingKey));
  return `${input}.${sig.toString('base64url')}`;
}

/** header.payload.signature with HMAC-SHA256 keyed with `secret`. */
export function signHS256(header, payload, secret) {
  const input = `${b64url(header)}.${b64url(payload)}`;
  const sig = crypto.createHmac('sha256', secret).update(input).digest();
  return `${input}.${sig.toString('base64url')}`;
}

export function nowSeconds() {
  return Math.floor(Date.now() / 1000);
}

/** Claims of a valid join token for `spaceId` (kid not included; add it where the test wants it). */
export function claims(spaceId, extra = {}) {
  return { sub: spaceId, aud: 'rt', exp: nowSeconds() + 600, ...extra };
}

/** A valid join token with kid in the header (jsonwebtoken style). */
export function joinToken(spaceId, signingKey, extra = {}) {
  return signRS256({ alg: 'RS256', typ: 'JWT', kid: signingKey.id }, claims(spaceId, extra), signingKey);
}

// ---------------------------------------------------------------------------------------------
// /pluto/v1 WebSocket

export function plutoUrl(wsBase, token, query = {}) {
  const q = new URLSearchParams({ token, sdk_version: 'web-1.2.0', managed_subscriptions: '16', ...query });
  return `${wsBase}/pluto/v1?${q}`;
}

/**
 * Opens the signaling socket. Returns {ws, messages, nextMessage(timeout), closed (Promise<{code, reason}>)}.
 * A refused HTTP upgrade rejects `opened` and `closed` with the status and body.
 */
export function openPluto(wsBase, token, { query = {} } = {}) {
  const ws = new WebSocket(plutoUrl(wsBase, token, query));
  const messages = [];
  const waiters = [];
  let upgradeFailure = null;
  ws.on('message', (data, isBinary) => {
    const text = data.toString('utf8');
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      // keep json null
    }
    const m = { text, json, isBinary };
    messages.push(m);
    const w = waiters.shift();
    if (w) w.resolve(m);
  });
  const closed = new Promise((resolve, reject) => {
    ws.on('close', (code, reason) => {
      for (const w of waiters.splice(0)) w.reject(new Error(`socket closed (code ${code} "${reason}") before a message arrived`));
      if (upgradeFailure) reject(upgradeFailure);
      else resolve({ code, reason: reason.toString() });
    });
  });
  closed.catch(() => {});
  const opened = new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => {
        upgradeFailure = new Error(
          `WebSocket upgrade refused with HTTP ${res.statusCode} (the server must accept the upgrade, then send an error frame and close with 4000): ${body.slice(0, 300)}`,
        );
        reject(upgradeFailure);
        ws.terminate();
      });
    });
    ws.once('error', (e) => {
      if (!upgradeFailure) upgradeFailure = e;
      reject(e);
    });
  });
  opened.catch(() => {});
  let delivered = 0;
  function nextMessage(timeoutMs = 5000) {
    if (delivered < messages.length) return Promise.resolve(messages[delivered++]);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        const i = waiters.indexOf(w);
        if (i >= 0) waiters.splice(i, 1);
        reject(new Error(`no message within ${timeoutMs} ms`));
      }, timeoutMs);
      const w = {
        resolve: (m) => {
          clearTimeout(t);
          delivered++;
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      };
      if (upgradeFailure) return w.reject(upgradeFailure);
      waiters.push(w);
    });
  }
  return { ws, messages, nextMessage, closed, opened };
}

export async function expectJoined(wsBase, token, opts = {}) {
  const conn = openPluto(wsBase, token, opts);
  await conn.opened;
  const first = await conn.nextMessage(opts.timeoutMs ?? 5000);
  assert.equal(first.isBinary, false, 'signaling frames are text');
  assert.ok(
    first.json && first.json.joined && typeof first.json.joined === 'object',
    `expected a {"joined": {...}} frame, got: ${first.text.slice(0, 500)}`,
  );
  const j = first.json.joined;
  for (const k of ['session_id', 'connection_id', 'participant_id']) {
    assert.equal(typeof j[k], 'string', `joined.${k} must be a string: ${first.text.slice(0, 500)}`);
    assert.ok(j[k].length > 0, `joined.${k} must not be empty`);
  }
  assert.equal(j.broadcasting, false, 'joined.broadcasting');
  assert.ok(Array.isArray(j.participants), 'joined.participants is an array');
  assert.ok(Array.isArray(j.sub_sfus), 'joined.sub_sfus is an array');
  return {
    ...conn,
    joined: j,
    async close() {
      if (conn.ws.readyState === WebSocket.OPEN || conn.ws.readyState === WebSocket.CONNECTING) conn.ws.close(1000);
      await Promise.race([conn.closed.catch(() => {}), unrefSleep(3000)]);
    },
  };
}

export async function expectRefused(wsBase, token, opts = {}) {
  const conn = openPluto(wsBase, token, opts);
  const timeoutMs = opts.timeoutMs ?? 5000;
  await conn.opened;
  // an accepted join answers {"joined": ...} and stays open: fail at once instead of waiting
  const firstOrClose = await Promise.race([
    conn.nextMessage(timeoutMs).then(
      (m) => ({ m }),
      () => ({}),
    ),
    conn.closed.then(() => ({})),
  ]);
  if (firstOrClose.m?.json && 'joined' in firstOrClose.m.json) {
    conn.ws.terminate();
    assert.fail(`the token was ACCEPTED but must be refused: ${firstOrClose.m.text.slice(0, 300)}`);
  }
  const timeout = unrefSleep(timeoutMs).then(() => 'timeout');
  const closed = await Promise.race([conn.closed, timeout]);
  if (closed === 'timeout') {
    conn.ws.terminate();
    assert.fail(
      `the server did not close a refused join within ${timeoutMs} ms; frames: ${JSON.stringify(conn.messages.map((m) => m.text))}`,
    );
  }
  const frames = conn.messages.map((m) => m.text);
  assert.ok(conn.messages.length >= 1, `expected an error frame before the close (close ${closed.code}), got none`);
  const first = conn.messages[0];
  assert.ok(
    !(first.json && 'joined' in first.json),
    `the token was ACCEPTED but must be refused: ${first.text.slice(0, 300)}`,
  );
  assert.equal(conn.messages.length, 1, `expected exactly one frame, got ${JSON.stringify(frames)}`);
  assert.equal(first.isBinary, false, 'the error frame is text');
  const e = first.json?.error;
  assert.ok(e && typeof e === 'object', `expected {"error": {...}}, got ${first.text.slice(0, 300)}`);
  assert.equal(e.type, 6, `error.type must be 6 (InvalidJWT): ${first.text}`);
  assert.equal(typeof e.message, 'string', `error.message: ${first.text}`);
  assert.ok(e.message.length > 0, 'error.message not empty');
  assert.ok('visibility' in e, `error.visibility must be present: ${first.text}`);
  assert.equal(e.fatal, true, `error.fatal must be true: ${first.text}`);
  assert.equal(closed.code, 4000, `close code must be 4000, got ${closed.code} "${closed.reason}"`);
  return { error: e, close: closed };
}

export { sleep, unrefSleep };
