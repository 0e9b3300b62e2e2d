// `--database-url`: a node keeps its state in PostgreSQL instead of SQLite under --data-dir, the
// CLI writes credentials there (by flag or ORIEL_DATABASE_URL), two nodes on one database see
// the same objects, and the database's password is never shown.
//
// The tests that need a server run when ORIEL_TEST_DATABASE_URL names one (a superuser's URL:
// scripts/api-tests-postgres.sh starts a private one and runs this file with a few others).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  installFailureLogs,
  startOriel,
  runCli,
  dataOf,
  createTestDatabase,
  TEST_DATABASE_URL,
  freeTcpPort,
} from '../lib/oriel.mjs';

installFailureLogs();

const needsServer = TEST_DATABASE_URL ? false : 'needs ORIEL_TEST_DATABASE_URL (scripts/api-tests-postgres.sh)';
const SECRET = 'hunter2-not-for-logs';
const started = [];
const dirs = [];

function tempDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oriel-pg-'));
  dirs.push(dir);
  return dir;
}

after(async () => {
  for (const s of started) {
    await s.stop();
    s.cleanup();
  }
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

function json(stdout) {
  return JSON.parse(stdout.trim());
}

test('the CLI writes to the database by flag or ORIEL_DATABASE_URL, and every node on it serves that', { skip: needsServer }, async () => {
  const database = createTestDatabase();
  const cliDir = tempDir();
  const byFlag = await runCli(['access-token', 'create', '--data-dir', cliDir, '--database-url', database, '--environment', 'pg']);
  assert.equal(byFlag.code, 0, byFlag.stderr);
  const token = json(byFlag.stdout);
  const byEnv = await runCli(['access-token', 'create', '--environment', 'pg'], {
    env: { ORIEL_DATABASE_URL: database, ORIEL_DATA_DIR: cliDir },
  });
  assert.equal(byEnv.code, 0, byEnv.stderr);
  assert.equal(json(byEnv.stdout).environment.id, token.environment.id, 'the same environment, found by name');
  const user = await runCli(['admin', 'create-user', '--data-dir', cliDir, '--email', 'ops@example.com'], {
    env: { ORIEL_DATABASE_URL: database, ORIEL_ADMIN_PASSWORD: 'correct horse battery' },
  });
  assert.equal(user.code, 0, user.stderr);
  const again = await runCli(['admin', 'create-user', '--database-url', database, '--email', 'OPS@example.com'], {
    env: { ORIEL_ADMIN_PASSWORD: 'correct horse battery' },
  });
  assert.notEqual(again.code, 0, 'the email is taken, whatever its case');
  assert.ok(!fs.existsSync(path.join(cliDir, 'oriel.db')), 'nothing went to SQLite');

  const a = await startOriel({ name: 'pg-a', databaseUrl: database });
  started.push(a);
  const b = await startOriel({ name: 'pg-b', databaseUrl: database, viaEnv: true });
  started.push(b);
  const space = dataOf(await a.api('POST', '/video/v1/spaces', { token, body: { passthrough: 'shared' } }), 201);
  const seen = dataOf(await b.api('GET', `/video/v1/spaces/${space.id}`, { token }));
  assert.equal(seen.passthrough, 'shared');
  const listed = dataOf(await b.api('GET', '/video/v1/spaces', { token }));
  assert.deepEqual(listed.map((s) => s.id), [space.id]);
  assert.equal((await b.api('DELETE', `/video/v1/spaces/${space.id}`, { token })).status, 204);
  assert.equal((await a.api('GET', `/video/v1/spaces/${space.id}`, { token })).status, 404);
  assert.ok(!fs.existsSync(path.join(a.dataDir, 'oriel.db')), 'the node keeps no SQLite database');
});

test('a URL that is not PostgreSQL is refused at start, and the password never shows', async () => {
  const dir = tempDir();
  const listen = `127.0.0.1:${await freeTcpPort()}`;
  const mysql = await runCli(['serve', '--data-dir', dir, '--listen', listen, '--database-url', `mysql://oriel:${SECRET}@db/oriel`], { timeoutMs: 10_000 });
  assert.notEqual(mysql.code, 0);
  assert.match(mysql.stderr, /not a PostgreSQL URL/);
  assert.ok(!mysql.stderr.includes(SECRET), mysql.stderr);
  const check = await runCli(['serve', '--check-config', '--data-dir', dir, '--listen', listen], {
    env: { ORIEL_DATABASE_URL: `postgres://oriel:${SECRET}@127.0.0.1:5432/oriel` },
  });
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stdout, /postgres:\/\/oriel:\*\*\*@127\.0\.0\.1:5432\/oriel/);
  assert.ok(!check.stdout.includes(SECRET), check.stdout);
  const help = await runCli(['access-token', 'create', '--help'], {
    env: { ORIEL_DATABASE_URL: `postgres://oriel:${SECRET}@127.0.0.1:5432/oriel` },
  });
  assert.match(help.stdout, /--database-url/);
  assert.match(help.stdout, /ORIEL_DATABASE_URL/);
  assert.ok(!help.stdout.includes(SECRET), 'the environment value is hidden in --help');
});
