// Firewalls: a browser that cannot send UDP still calls, over ICE-TCP; one that reaches neither
// the UDP nor the TCP media ports calls through the node's embedded TURN server, over UDP and,
// with UDP to it blocked too, over TCP. All with the unmodified @mux/spaces-web 1.2.0.
//
// The file runs twice: as the outer test it makes a private network namespace and runs itself
// inside it; inside, it starts oriel and Chromium (as uid `nobody`, see tests/lib/netns.mjs)
// and firewalls the browser step by step, each test adding rules to the ones before. Each
// call must connect over the path left open, shown by its selected candidate pair, and decode
// frames.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';

const INNER = process.env.ORIEL_FIREWALL_E2E_INNER === '1';
const SELF = fileURLToPath(import.meta.url);
/** Media workers use --media-port and up to 15 ports after it. */
const MEDIA_PORTS = 16;

/** The environment without node:test's marker, which would make the inner run skip itself. */
function innerEnv() {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  return env;
}

/** This process's node flags (e.g. tests/sdk's `--import` loader that swaps in our Web SDK),
 *  without node:test's own. */
function nodeFlags() {
  return process.execArgv.filter((a) => !a.startsWith('--test'));
}

/** Why the inner run failed, for the outer assertion (a CI summary shows only that): node:test's
 *  own "failing tests" section when it got that far, else how the run ended and its last lines. */
function innerFailure(run) {
  const stdout = run.stdout ?? '';
  const failing = stdout.indexOf('✖ failing tests:');
  if (failing >= 0) return stdout.slice(failing, failing + 4000);
  const ended = run.error ? `the run: ${run.error.message}` : `exit ${run.status}, signal ${run.signal}`;
  return `${ended}\n${stdout.split('\n').slice(-40).join('\n')}\n${(run.stderr ?? '').slice(-2000)}`;
}

if (!INNER) {
  const { createNetns, chromiumWrapper, ensureTools } = await import('../lib/netns.mjs');
  describe('firewalled', () => {
    test('without the media ports calls connect through TURN over UDP and over TCP; without UDP, over ICE-TCP; frames decode', { timeout: 240_000 }, () => {
      ensureTools();
      const ns = createNetns('oriel-fw');
      const chromium = chromiumWrapper(process.env.E2E_CHROMIUM || '/usr/bin/chromium');
      try {
        const [command, ...args] = ns.exec([process.execPath, ...nodeFlags(), '--test-reporter=spec', SELF]);
        const run = spawnSync(command, args, {
            env: { ...innerEnv(), ORIEL_FIREWALL_E2E_INNER: '1', ORIEL_FIREWALL_NETNS: ns.name, E2E_CHROMIUM: chromium.path },
            encoding: 'utf8',
            timeout: 230_000,
          cwd: process.cwd(),
        });
        process.stdout.write((run.stdout ?? '').replace(/^/gm, '  | '));
        process.stderr.write(run.stderr ?? '');
        assert.equal(run.status, 0, `the calls inside the namespace passed:\n${innerFailure(run)}`);
        assert.match(run.stdout, /ℹ pass 3\b/, 'the three inner tests ran');
      } finally {
        chromium.remove();
        ns.remove();
      }
    });
  });
} else {
  const { useE2E, checkSelectedPairs } = await import('./lib/fixture.mjs');
  const { execFileSync } = await import('node:child_process');
  const { BROWSER_UID } = await import('../lib/netns.mjs');
  const e2e = useE2E();

  const own = ['-m', 'owner', '--uid-owner', String(BROWSER_UID)];
  /** How many of the browser's packets the REJECT rules of `proto` turned away so far
   *  (`iptables -L` names protocols by number). */
  const refused = (proto) => {
    const number = { udp: 17, tcp: 6 }[proto];
    const counters = execFileSync('iptables', ['-L', 'OUTPUT', '-v', '-n', '-x'], { encoding: 'utf8' });
    return counters
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter(([, , target, prot]) => target === 'REJECT' && (prot === proto || prot === String(number)))
      .reduce((sum, [pkts]) => sum + Number(pkts), 0);
  };

  describe('firewalled (inside the namespace)', () => {
    e2e.test('with the UDP and TCP media ports blocked, the browser reaches the media ports only through TURN and frames decode', { timeout: 120_000 }, async () => {
      const media = e2e.server.mediaPort;
      // The TCP media ports (--media-tcp-port is by default --media-port) are in the range.
      const rules = [
        ['-A', 'OUTPUT', ...own, '-p', 'udp', '--dport', `${media}:${media + MEDIA_PORTS - 1}`, '-j', 'REJECT'],
        ['-A', 'OUTPUT', ...own, '-p', 'tcp', '--dport', `${media}:${media + MEDIA_PORTS - 1}`, '-j', 'REJECT'],
      ];
      for (const rule of rules) execFileSync('iptables', rule);

      const call = await e2e.cameraCall({ timeoutMs: 45_000 });

      await checkSelectedPairs(call, (pair, who) => {
        assert.equal(pair.localType, 'relay', `${who}: connected through a relay candidate: ${JSON.stringify(pair)}`);
        assert.ok(
          pair.iceServers.flat().every((url) => /^turns?:127\.0\.0\.1:/.test(url)),
          `${who}: only the node's own TURN server is configured: ${JSON.stringify(pair.iceServers)}`,
        );
      });
      // The firewall really stood in the way: the browser's packets to the media ports were refused.
      assert.ok(refused('udp') > 0, 'the browser tried the UDP media ports directly and was refused');
      assert.ok(refused('tcp') > 0, 'the browser tried the TCP media ports directly and was refused');
    });

    e2e.test('with UDP to the TURN port blocked as well, the relay runs over TURN/TCP', { timeout: 120_000 }, async () => {
      // The rules of the test before stay; the TURN port is --media-port + 100 by default.
      const turnPort = e2e.server.mediaPort + 100;
      execFileSync('iptables', ['-A', 'OUTPUT', ...own, '-p', 'udp', '--dport', String(turnPort), '-j', 'REJECT']);
      const call = await e2e.cameraCall({ timeoutMs: 45_000 });
      await checkSelectedPairs(call, (pair, who) => {
        assert.equal(pair.localType, 'relay', `${who}: ${JSON.stringify(pair)}`);
        assert.equal(pair.relayProtocol, 'tcp', `${who}: relayed over TCP to the TURN server: ${JSON.stringify(pair)}`);
      });
    });

    e2e.test('with all UDP from the browser blocked, the call connects over ICE-TCP and frames decode', { timeout: 120_000 }, async () => {
      // The rules before go; all UDP is closed (the media ports, the TURN port, anything), and
      // the TURN port's TCP too, so that ICE-TCP is the one path left. Last, as a browser that
      // met a closed UDP path may not try it again in the tests after.
      const turnPort = e2e.server.mediaPort + 100;
      execFileSync('iptables', ['-F', 'OUTPUT']);
      execFileSync('iptables', ['-A', 'OUTPUT', ...own, '-p', 'udp', '-j', 'REJECT']);
      execFileSync('iptables', ['-A', 'OUTPUT', ...own, '-p', 'tcp', '--dport', `${turnPort}:${turnPort + 1}`, '-j', 'REJECT']);
      const media = e2e.server.mediaPort;
      const call = await e2e.cameraCall({ timeoutMs: 45_000 });
      await checkSelectedPairs(call, (pair, who) => {
        assert.equal(pair.remoteType, 'host', `${who}: straight to the node: ${JSON.stringify(pair)}`);
        assert.equal(pair.remoteProtocol, 'tcp', `${who}: over TCP: ${JSON.stringify(pair)}`);
        assert.ok(pair.remotePort >= media && pair.remotePort < media + MEDIA_PORTS, `${who}: to a TCP media port: ${JSON.stringify(pair)}`);
      });
      assert.ok(refused('udp') > 0, 'the browser tried UDP and was refused');
    });
  });
}
