// A cluster of oriel nodes on 127.0.0.1, driven as a black box: a private Redis, a shared
// store, three `oriel serve` nodes given the same --redis-url (and --database-url), and TCP
// balancers in front of them that move on from a node whose connect fails, as the README's
// "Cluster" section asks of a production balancer.
//
//   const redis = await startRedis();
//   const node = await startServer({ name: 'a', args: ['--redis-url', redis.url, ...store] });
//   const lb = await startBalancer([a, b, c], 0);    // tries a first, then b, then c
//   lb.backendUrl                                     // ws://127.0.0.1:PORT/pluto for the SDK
//   await redis.get('oriel:space:ID:node');          // what the cluster put in Redis

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { sleep } from './server.mjs';

const START_TIMEOUT_MS = 10_000;

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

/** One RESP command on a fresh connection; resolves with the parsed reply (strings, numbers, null, arrays). */
function redisCommand(port, args) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`Redis on ${port} did not answer ${args[0]}`));
    }, 2000);
    let buffer = Buffer.alloc(0);
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      const parsed = parseReply(buffer, 0);
      if (parsed) {
        clearTimeout(timer);
        socket.end();
        if (parsed.value instanceof Error) reject(parsed.value);
        else resolve(parsed.value);
      }
    });
    socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join('')}`);
  });
}

/** {value, end} of the RESP reply at `at`, or null when incomplete. */
function parseReply(buffer, at) {
  const lineEnd = buffer.indexOf('\r\n', at);
  if (lineEnd < 0) return null;
  const type = String.fromCharCode(buffer[at]);
  const line = buffer.toString('utf8', at + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, end: next };
    case '-':
      return { value: new Error(line), end: next };
    case ':':
      return { value: Number(line), end: next };
    case '$': {
      const n = Number(line);
      if (n < 0) return { value: null, end: next };
      if (buffer.length < next + n + 2) return null;
      return { value: buffer.toString('utf8', next, next + n), end: next + n + 2 };
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return { value: null, end: next };
      const items = [];
      let pos = next;
      for (let i = 0; i < n; i++) {
        const item = parseReply(buffer, pos);
        if (!item) return null;
        items.push(item.value);
        pos = item.end;
      }
      return { value: items, end: pos };
    }
    default:
      return { value: new Error(`unexpected RESP type ${type}`), end: next };
  }
}

/** A private redis-server on a free loopback port, no persistence, its files in a temp dir. */
export async function startRedis() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oriel-redis-'));
  const port = await freeTcpPort();
  const log = path.join(dir, 'redis.log');
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--logfile', log], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  process.on('exit', () => child.kill('SIGKILL'));
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    try {
      if ((await redisCommand(port, ['PING'])) === 'PONG') break;
    } catch {
      // not up yet
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not start on ${port}: ${fs.existsSync(log) ? fs.readFileSync(log, 'utf8').slice(-2000) : ''}`);
    }
    await sleep(50);
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    command: (...args) => redisCommand(port, args),
    get: (key) => redisCommand(port, ['GET', key]),
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A TCP balancer on a free loopback port in front of `nodes` (objects with a `port`): each
 * connection goes to the first node, counting from `first`, that accepts a TCP connection
 * within a second, so a dead node is skipped at once and no client connection is refused
 * while one node runs.
 */
export async function startBalancer(nodes, first = 0) {
  const open = new Set();
  const server = net.createServer((client) => {
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => {});
    client.pause();
    const order = nodes.map((_, i) => nodes[(first + i) % nodes.length]);
    const tryNext = (i) => {
      if (i >= order.length) {
        client.destroy();
        return;
      }
      const upstream = net.connect(order[i].port, '127.0.0.1');
      const timer = setTimeout(() => upstream.destroy(new Error('connect timeout')), 1000);
      upstream.once('connect', () => {
        clearTimeout(timer);
        upstream.removeAllListeners('error');
        upstream.on('error', () => client.destroy());
        client.on('error', () => upstream.destroy());
        open.add(upstream);
        upstream.on('close', () => {
          open.delete(upstream);
          client.destroy();
        });
        client.on('close', () => upstream.destroy());
        upstream.setNoDelay(true);
        client.setNoDelay(true);
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
      upstream.once('error', () => {
        clearTimeout(timer);
        tryNext(i + 1);
      });
    };
    tryNext(0);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  return {
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    backendUrl: `ws://127.0.0.1:${port}/pluto`,
    async close() {
      for (const socket of open) socket.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/** Runs a command to its end; rejects with its output when it fails. */
function run(command, args, { timeoutMs = 60_000, env = {} } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${command} ${args.join(' ')} failed (${code ?? signal}):\n${out.slice(-3000)}`));
    });
  });
}

/**
 * A private PostgreSQL on a free loopback port, its files in a temp dir: the store tests'
 * scripts/lib/test-postgres.sh (which runs the server as `postgres` when we are root, since
 * PostgreSQL refuses to run as root).
 */
export async function startPostgres() {
  const { REPO_ROOT } = await import('./server.mjs');
  const script = path.join(REPO_ROOT, 'scripts', 'lib', 'test-postgres.sh');
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'oriel-cluster-pg-'));
  // The server's user (not root) must reach its directory inside.
  fs.chmodSync(parent, 0o755);
  const dir = path.join(parent, 'pg');
  const out = await run('bash', [script, 'start', dir], { timeoutMs: 60_000 });
  const url = out.trim().split('\n').pop();
  if (!url.startsWith('postgres://')) throw new Error(`test-postgres.sh printed no URL: ${out}`);
  process.on('exit', () => {
    // A run cut short still stops its server.
    spawn('bash', [script, 'stop', dir], { stdio: 'ignore', detached: true }).unref();
  });
  return {
    url,
    async stop() {
      await run('bash', [script, 'stop', dir], { timeoutMs: 30_000 });
      fs.rmSync(path.dirname(dir), { recursive: true, force: true });
    },
  };
}

/** `oriel access-token create ARGS --environment NAME` → {id, secret, environment}. */
async function createAccessToken(storeArgs, environment) {
  const { ORIEL_BIN } = await import('./server.mjs');
  const out = await run(ORIEL_BIN, ['access-token', 'create', ...storeArgs, '--environment', environment], { timeoutMs: 30_000 });
  return JSON.parse(out.trim().split('\n').pop());
}

/** `oriel admin create-user ARGS --email EMAIL` with the password in ORIEL_ADMIN_PASSWORD. */
async function createUser(storeArgs, email, password) {
  const { ORIEL_BIN } = await import('./server.mjs');
  await run(ORIEL_BIN, ['admin', 'create-user', ...storeArgs, '--email', email], { timeoutMs: 30_000, env: { ORIEL_ADMIN_PASSWORD: password } });
}

/**
 * The durable state the nodes share: a private PostgreSQL (`--database-url`).
 * Resolves with {nodeArgs, createAccessToken(env), createUser(email, password), stop()}.
 */
export async function sharedStore() {
  const pg = await startPostgres();
  return {
    nodeArgs: ['--database-url', pg.url],
    createAccessToken: (environment) => createAccessToken(['--database-url', pg.url], environment),
    createUser: (email, password) => createUser(['--database-url', pg.url], email, password),
    stop: () => pg.stop(),
  };
}
