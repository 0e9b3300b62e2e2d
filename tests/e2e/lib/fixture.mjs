// One oriel server and one Chromium per test file; participants (browser contexts) per test.
//
//   const e2e = useE2E();                   // registers before/after hooks
//   e2e.test('name', async (t) => { const p = await e2e.participant('alice'); ... });
//
// When a test fails, e2e.test prints the participants' events, console and page errors, and the
// tail of the server log, then rethrows.

import crypto from 'node:crypto';
import fs from 'node:fs';
import { after, afterEach, before, test } from 'node:test';
import { startServer, sleep } from './server.mjs';
import { launchBrowser } from './browser.mjs';
import { RawSignal } from './raw-signal.mjs';

export { sleep, RawSignal };

let counter = 0;
/** A participant_id unique within the run, readable in the server log. */
export const pid = (name) => `${name}-${process.pid}-${++counter}`;

/** `enabled: false` registers no hooks (a file of todo stubs starts no server and no browser). */
/**
 * `browserArgs`: more Chromium flags for this file's browser.
 * `tls`: the node serves https and wss with the certificate tests/e2e/run.sh made
 * (E2E_TLS_CERT/E2E_TLS_KEY, trusted by this process through NODE_EXTRA_CA_CERTS), and Chromium
 * trusts it by its public key (--ignore-certificate-errors-spki-list, nothing else waived).
 * `serverArgs`: more `oriel serve` flags (e.g. `--public-ip` to send clients through a relay).
 * `serverLog`: the server's log filter (RUST_LOG) when E2E_RUST_LOG does not set one.
 */
export function useE2E({ environment = 'e2e', enabled = true, browserArgs = [], tls = false, serverArgs = [], serverLog = 'info' } = {}) {
  const e2e = {
    server: null,
    env: null,
    browser: null,
    /** A new participant page aimed at this file's server. */
    participant(name) {
      return e2e.browser.participant(name, e2e.server.backendUrl);
    },
    /**
     * A participant page that has joined `spaceId` with a fresh participant_id. `role`:
     * 'publisher' (default) or 'subscriber'; `options` go to `new Space(jwt, options)`.
     * Resolves with {p, id, joined, jwt}; throws if join() did not resolve.
     */
    async joined(name, spaceId, { role, options, participantId } = {}) {
      const p = await e2e.participant(name);
      const id = participantId || pid(name);
      const jwt = e2e.env.sign(spaceId, { participantId: id, ...(role === 'subscriber' ? { role } : {}) });
      const joined = await p.join(jwt, options);
      if (!joined.ok) throw new Error(`${name}: join() did not resolve: ${JSON.stringify(joined)}`);
      return { p, id, joined, jwt };
    },
    /**
     * A subscriber watching a publisher's camera (and microphone, with `mic`) in a new space,
     * 10 frames decoded within `timeoutMs`. Resolves with {space, sub, pub} as joined() gives.
     */
    async cameraCall({ mic = false, timeoutMs = 20_000 } = {}) {
      const space = await e2e.env.createSpace();
      const sub = await e2e.joined('viewer', space.id, { role: 'subscriber' });
      const pub = await e2e.joined('camera', space.id);
      const published = mic ? await pub.p.publishCameraAndMic() : await pub.p.publishCamera();
      if (!published.ok) throw new Error(`camera: publishing failed: ${JSON.stringify(published.error)}`);
      await sub.p.waitForFrames(pub.id, 10, timeoutMs);
      return { space, sub, pub };
    },
    rawSockets: [],
    /** A raw `ws` signaling client (lib/raw-signal.mjs) with `jwt`; closed after the test. */
    async raw(jwt, options) {
      const raw = await RawSignal.open(e2e.server.backendUrl, jwt, options);
      e2e.rawSockets.push(raw);
      return raw;
    },
    /** {status, active_session_id} of a space through the REST API. */
    async spaceStatus(spaceId) {
      const space = await e2e.env.getSpace(spaceId);
      return { status: space.status, active_session_id: space.active_session_id };
    },
    /** node:test's test(), with a failure report. */
    test(name, options, fn) {
      if (typeof options === 'function') [options, fn] = [{}, options];
      if (!fn) return test(name, options); // a stub (todo/skip) without a body
      return test(name, options, async (t) => {
        try {
          await fn(t);
        } catch (error) {
          // A todo test is expected to fail: no report, and the run does not count as failed.
          if (!options.todo) await e2e.report(name);
          throw error;
        }
      });
    },
    failed: false,
    async report(name) {
      e2e.failed = true;
      const parts = [`===== e2e failure report: ${name} =====`];
      if (e2e.browser) {
        for (const p of e2e.browser.participants) parts.push(await p.report());
      }
      for (const [i, raw] of e2e.rawSockets.entries()) parts.push(`----- raw socket ${i} (${raw.connectionId}) close ${JSON.stringify(raw.closeInfo)} -----\n${raw.describe(30)}`);
      if (e2e.server) parts.push(e2e.server.logTail(80));
      process.stderr.write(`${parts.join('\n')}\n===== end of report =====\n`);
    },
  };

  if (!enabled) return e2e;
  before(async () => {
    let certificate = null;
    const extraArgs = [...browserArgs];
    if (tls) {
      const { E2E_TLS_CERT: cert, E2E_TLS_KEY: key } = process.env;
      if (!cert || !key) throw new Error('this file serves https: run it through tests/e2e/run.sh, which makes the certificate');
      certificate = { cert, key };
      const x509 = new crypto.X509Certificate(fs.readFileSync(cert));
      const spki = crypto.createHash('sha256').update(x509.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
      extraArgs.push(`--ignore-certificate-errors-spki-list=${spki}`);
    }
    e2e.server = await startServer({ tls: certificate, args: serverArgs, logFilter: serverLog });
    e2e.env = await e2e.server.environment(environment);
    e2e.browser = await launchBrowser({ extraArgs });
  });
  afterEach(async () => {
    const raws = e2e.rawSockets;
    e2e.rawSockets = [];
    await Promise.all(raws.map((r) => r.close().catch(() => {})));
    await e2e.browser?.closeParticipants();
  });
  after(async () => {
    await e2e.browser?.close();
    const exit = await e2e.server?.stop();
    if (exit && exit.code !== 0) {
      e2e.failed = true;
      process.stderr.write(`oriel did not exit cleanly on SIGTERM: ${JSON.stringify(exit)}\n${e2e.server.logTail(40)}\n`);
    }
    if (e2e.server) {
      if (e2e.failed || process.env.E2E_KEEP === '1') process.stderr.write(`kept the server's data and log in ${e2e.server.root}\n`);
      else e2e.server.cleanup();
    }
  });
  return e2e;
}

/** Polls `probe()` until `check(value)` holds; returns {value, ms}. Throws with the last value. */
export async function eventually(probe, check, { timeoutMs = 2000, intervalMs = 50, what = 'condition' } = {}) {
  const start = Date.now();
  let value;
  for (;;) {
    value = await probe();
    if (check(value)) return { value, ms: Date.now() - start };
    if (Date.now() - start > timeoutMs) {
      throw new Error(`${what} not reached within ${timeoutMs} ms; last value: ${JSON.stringify(value)}`);
    }
    await sleep(intervalMs);
  }
}

/**
 * Runs `check(pair, who)` on every connected peer connection's selected candidate pair of a
 * cameraCall()'s subscriber and publisher, after asserting each has at least one.
 */
export async function checkSelectedPairs({ sub, pub }, check) {
  for (const [who, p] of [['subscriber', sub.p], ['publisher', pub.p]]) {
    const pairs = (await p.selectedPairs()).filter((s) => s.state === 'connected');
    if (pairs.length === 0) throw new Error(`${who}: no connected peer connection: ${JSON.stringify(pairs)}`);
    for (const pair of pairs) check(pair, who);
  }
}
