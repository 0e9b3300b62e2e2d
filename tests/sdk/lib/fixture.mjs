// One oriel server and one Chromium per test file, for the tests of Oriel's own SDK
// (tests/sdk/e2e): like tests/e2e/lib/fixture.mjs, with the SDK chosen per participant.
//
//   const e2e = useSdkE2E();
//   e2e.test('name', async () => {
//     const a = await e2e.joined('alice', space.id, { sdk: 'oriel' });
//     const b = await e2e.joined('bob', space.id, { sdk: 'mux', role: 'subscriber' });
//   });
//
// On failure: the participants' events, consoles and page errors, and the server log tail.

import { after, afterEach, before, test } from 'node:test';
import { startServer, sleep } from '../../e2e/lib/server.mjs';
import { RawSignal } from '../../e2e/lib/raw-signal.mjs';
import { eventually } from '../../e2e/lib/fixture.mjs';
import { launchBrowser } from './browser.mjs';

export { sleep, eventually, RawSignal };

let counter = 0;
/** A participant_id unique within the run. */
export const pid = (name) => `${name}-${process.pid}-${++counter}`;

export function useSdkE2E({ environment = 'sdk-e2e', browserArgs = [] } = {}) {
  const e2e = {
    server: null,
    env: null,
    browser: null,
    rawSockets: [],
    failed: false,
    /** A participant page (harness + `sdk`: 'oriel' or 'mux'). */
    participant(name, { sdk = 'oriel' } = {}) {
      return e2e.browser.participant(name, e2e.server.backendUrl, { sdk });
    },
    /** A page that joined `spaceId`; {p, id, joined, jwt}. */
    async joined(name, spaceId, { role, options, participantId, sdk = 'oriel' } = {}) {
      const p = await e2e.participant(name, { sdk });
      const id = participantId || pid(name);
      const jwt = e2e.env.sign(spaceId, { participantId: id, ...(role === 'subscriber' ? { role } : {}) });
      const joined = await p.join(jwt, options);
      if (!joined.ok) throw new Error(`${name} (${sdk}): join() did not resolve: ${JSON.stringify(joined)}`);
      return { p, id, joined, jwt, sdk };
    },
    async raw(jwt, options) {
      const raw = await RawSignal.open(e2e.server.backendUrl, jwt, options);
      e2e.rawSockets.push(raw);
      return raw;
    },
    test(name, options, fn) {
      if (typeof options === 'function') [options, fn] = [{}, options];
      return test(name, options, async (t) => {
        try {
          await fn(t);
        } catch (error) {
          await e2e.report(name);
          throw error;
        }
      });
    },
    async report(name) {
      e2e.failed = true;
      const parts = [`===== sdk e2e failure report: ${name} =====`];
      for (const p of e2e.browser?.participants ?? []) parts.push(`(${p.sdk} SDK)\n${await p.report()}`);
      for (const c of e2e.browser?.contexts ?? []) if (c.log) parts.push(c.log.join('\n'));
      if (e2e.server) parts.push(e2e.server.logTail(80));
      process.stderr.write(`${parts.join('\n')}\n===== end of report =====\n`);
    },
  };

  before(async () => {
    e2e.server = await startServer({ name: 'oriel (sdk e2e)' });
    e2e.env = await e2e.server.environment(environment);
    e2e.browser = await launchBrowser({ extraArgs: browserArgs });
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
      process.stderr.write(`oriel did not exit cleanly: ${JSON.stringify(exit)}\n${e2e.server.logTail(40)}\n`);
    }
    if (e2e.server) {
      if (e2e.failed || process.env.E2E_KEEP === '1') process.stderr.write(`kept the server's data and log in ${e2e.server.root}\n`);
      else e2e.server.cleanup();
    }
  });
  return e2e;
}

/** Runs `fn(...args)` in the page with its most recent Space as `space` (lib/page/capture-space.js). */
export function inSpace(p, fn, ...args) {
  return p.page.evaluate(
    ([source, args]) => {
      const space = window.__spaces[window.__spaces.length - 1];
      // eslint-disable-next-line no-new-func
      return new Function('space', 'args', `return (${source})(space, ...args);`)(space, args);
    },
    [fn.toString(), args],
  );
}
