// The `oriel` command line: --help, environment variables for every serve flag, SIGINT,
// structured logs, access-token create without a server, and bad invocations.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { installFailureLogs, startOriel, runCli, dataOf, describe, freeTcpPort } from '../lib/oriel.mjs';

installFailureLogs();

const started = [];
after(async () => {
  for (const s of started) {
    await s.kill();
    s.cleanup();
  }
});

test('oriel serve --help explains every flag and its environment variable', async () => {
  const { code, stdout } = await runCli(['serve', '--help']);
  assert.equal(code, 0);
  for (const [flag, env] of [
    ['--listen', 'ORIEL_LISTEN'],
    ['--data-dir', 'ORIEL_DATA_DIR'],
    ['--media-ip', 'ORIEL_MEDIA_IP'],
    ['--media-port', 'ORIEL_MEDIA_PORT'],
    ['--api-rate-limit', 'ORIEL_API_RATE_LIMIT'],
    ['--api-rate-burst', 'ORIEL_API_RATE_BURST'],
    ['--log-format', 'ORIEL_LOG_FORMAT'],
  ]) {
    assert.ok(stdout.includes(flag), `serve --help mentions ${flag}`);
    assert.ok(stdout.includes(env), `serve --help mentions ${env}`);
  }
  const top = await runCli(['--help']);
  assert.equal(top.code, 0);
  assert.match(top.stdout, /serve/);
  assert.match(top.stdout, /access-token/);
});

test('access-token create works on a fresh directory with no server, and --help describes it', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oriel-cli-'));
  try {
    const dataDir = path.join(dir, 'nested', 'data');
    const { code, stdout, stderr } = await runCli(['access-token', 'create', '--data-dir', dataDir, '--environment', 'cli']);
    assert.equal(code, 0, stderr);
    const lines = stdout.trim().split('\n');
    assert.equal(lines.length, 1, `one JSON object on one line of stdout: ${stdout}`);
    const obj = JSON.parse(lines[0]);
    assert.deepEqual(Object.keys(obj).sort(), ['environment', 'id', 'secret']);
    assert.deepEqual(Object.keys(obj.environment).sort(), ['id', 'name']);
    assert.equal(obj.environment.name, 'cli');
    const help = await runCli(['access-token', 'create', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--data-dir/);
    assert.match(help.stdout, /--environment/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('bad invocations exit nonzero with a message on stderr', async () => {
  // every serve case names a private data dir and a free port, in case one were accepted
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oriel-cli-'));
  const listen = `127.0.0.1:${await freeTcpPort()}`;
  try {
    for (const args of [
      ['no-such-command'],
      ['serve', '--data-dir', dir, '--listen', 'not-an-address'],
      ['serve', '--data-dir', dir, '--listen', listen, '--media-ip', 'not-an-ip'],
      ['serve', '--data-dir', dir, '--listen', listen, '--media-port', '70000'],
      ['serve', '--data-dir', dir, '--listen', listen, '--api-rate-limit', '0'],
      ['serve', '--data-dir', dir, '--listen', listen, '--log-format', 'xml'],
      ['access-token', 'create', '--data-dir', dir, '--environment', ''],
    ]) {
      const { code, stderr } = await runCli(args, { timeoutMs: 10_000 });
      assert.notEqual(code, 0, `oriel ${args.join(' ')} must fail`);
      assert.ok(stderr.trim().length > 0, `oriel ${args.join(' ')} explains why on stderr`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('serve exits nonzero when its port is taken', async () => {
  const s = await startOriel({ name: 'port-owner' });
  started.push(s);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oriel-cli-'));
  try {
    const { code, stderr } = await runCli(
      ['serve', '--listen', `127.0.0.1:${s.port}`, '--data-dir', dir, '--media-port', String(s.mediaPort + 100)],
      { timeoutMs: 10_000 },
    );
    assert.notEqual(code, 0, 'a second server on the same port fails');
    assert.match(stderr, /listen|in use/i);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  await s.stop();
});

test('serve takes every setting from ORIEL_* environment variables', async () => {
  const s = await startOriel({
    name: 'env-config',
    viaEnv: true,
    env: { ORIEL_API_RATE_LIMIT: '2', ORIEL_API_RATE_BURST: '2' },
  });
  started.push(s);
  const tok = await s.createAccessToken('env');
  // the data dir came from ORIEL_DATA_DIR: the token made there authenticates
  const results = await Promise.all(Array.from({ length: 10 }, () => s.api('GET', '/video/v1/spaces', { token: tok })));
  const codes = results.map((r) => r.status);
  assert.ok(codes.includes(200), `some requests pass: ${codes}`);
  assert.ok(codes.includes(429), `ORIEL_API_RATE_LIMIT/BURST apply: ${codes}`);
  assert.ok(fs.readdirSync(s.dataDir).length > 0, 'state lives in ORIEL_DATA_DIR');
  await s.stop();
});

test('SIGINT stops the server gracefully (exit code 0)', async () => {
  const s = await startOriel({ name: 'sigint' });
  started.push(s);
  await s.stop('SIGINT');
});

test('--log-format json writes one JSON object per log line', async () => {
  const s = await startOriel({ name: 'json-logs', extraArgs: ['--log-format', 'json'], env: { RUST_LOG: 'info' } });
  started.push(s);
  const tok = await s.createAccessToken('logs');
  dataOf(await s.api('POST', '/video/v1/spaces', { token: tok, body: {} }), 201);
  await s.stop();
  const lines = fs
    .readFileSync(s.logFile, 'utf8')
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('====='));
  assert.ok(lines.length > 0, 'the server logged something at info level');
  for (const l of lines) {
    let obj;
    assert.doesNotThrow(() => (obj = JSON.parse(l)), `not a JSON log line: ${l}`);
    assert.equal(typeof obj, 'object');
  }
});

test('/healthz answers on a server that just started, without credentials', async () => {
  const s = await startOriel({ name: 'health' });
  started.push(s);
  const res = await s.api('GET', '/healthz');
  assert.equal(res.status, 200, describe(res));
  assert.deepEqual(res.json, { status: 'ok' });
  await s.stop();
});
