// TURN: a browser that can reach neither the UDP media ports nor the TCP media port still
// calls, through the node's embedded TURN server, with the unmodified @mux/spaces-web 1.2.0.
//
// The file runs twice: as the outer test it makes a private network namespace and runs itself
// inside it; inside, it starts oriel and Chromium (as uid `nobody`, see tests/lib/netns.mjs)
// and firewalls the browser off the media ports, so only the HTTP listener and the TURN port
// are left to it. The call must connect over a relay candidate and decode frames.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';

const INNER = process.env.ORIEL_TURN_E2E_INNER === '1';
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

if (!INNER) {
  const { createNetns, chromiumWrapper, ensureTools } = await import('../lib/netns.mjs');
  describe('turn', () => {
    test('with UDP and TCP to the media ports blocked, calls connect through TURN over UDP and over TCP and decode frames', { timeout: 180_000 }, () => {
      ensureTools();
      const ns = createNetns('oriel-turn');
      const chromium = chromiumWrapper(process.env.E2E_CHROMIUM || '/usr/bin/chromium');
      try {
        const [command, ...args] = ns.exec([process.execPath, ...nodeFlags(), '--test-reporter=spec', SELF]);
        const run = spawnSync(command, args, {
            env: { ...innerEnv(), ORIEL_TURN_E2E_INNER: '1', ORIEL_TURN_NETNS: ns.name, E2E_CHROMIUM: chromium.path },
            encoding: 'utf8',
            timeout: 170_000,
          cwd: process.cwd(),
        });
        process.stdout.write(run.stdout.replace(/^/gm, '  | '));
        process.stderr.write(run.stderr);
        assert.equal(run.status, 0, 'the call inside the namespace passed');
        assert.match(run.stdout, /ℹ pass 2\b/, 'both inner tests ran');
      } finally {
        chromium.remove();
        ns.remove();
      }
    });
  });
} else {
  const { useE2E } = await import('./lib/fixture.mjs');
  const { execFileSync } = await import('node:child_process');
  const { BROWSER_UID } = await import('../lib/netns.mjs');
  const e2e = useE2E();

  /** Every peer connection's selected candidate pair: local candidate type and protocols. */
  const selectedPairs = (p) =>
    p.page.evaluate(async () => {
      const out = [];
      for (const { pc } of window.__orielPeerConnections) {
        if (pc.connectionState === 'closed') continue;
        const stats = await pc.getStats();
        let pair = null;
        stats.forEach((s) => {
          if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
        });
        const local = pair && stats.get(pair.localCandidateId);
        out.push({
          state: pc.connectionState,
          localType: local?.candidateType,
          relayProtocol: local?.relayProtocol,
          protocol: local?.protocol,
          iceServers: pc.getConfiguration().iceServers.map((s) => s.urls),
        });
      }
      return out;
    });

  describe('turn (inside the namespace)', () => {
    e2e.test('the browser reaches the media ports only through TURN and frames decode', { timeout: 120_000 }, async () => {
      const media = e2e.server.mediaPort;
      const own = ['-m', 'owner', '--uid-owner', String(BROWSER_UID)];
      // The ICE-TCP media port is --media-tcp-port, by default --media-port: covered by the range.
      const rules = [
        ['-A', 'OUTPUT', ...own, '-p', 'udp', '--dport', `${media}:${media + MEDIA_PORTS - 1}`, '-j', 'REJECT'],
        ['-A', 'OUTPUT', ...own, '-p', 'tcp', '--dport', `${media}:${media + MEDIA_PORTS - 1}`, '-j', 'REJECT'],
      ];
      for (const rule of rules) execFileSync('iptables', rule);

      const space = await e2e.env.createSpace();
      const sub = await e2e.joined('viewer', space.id, { role: 'subscriber' });
      const pub = await e2e.joined('camera', space.id);
      const cam = await pub.p.publishCamera();
      assert.equal(cam.ok, true, `publishCamera: ${JSON.stringify(cam.error)}`);
      await sub.p.waitForFrames(pub.id, 10, 45_000);

      for (const [who, p] of [['subscriber', sub.p], ['publisher', pub.p]]) {
        const pairs = (await selectedPairs(p)).filter((s) => s.state === 'connected');
        assert.ok(pairs.length >= 1, `${who}: a connected peer connection: ${JSON.stringify(pairs)}`);
        for (const pair of pairs) {
          assert.equal(pair.localType, 'relay', `${who}: connected through a relay candidate: ${JSON.stringify(pair)}`);
          assert.ok(
            pair.iceServers.flat().every((url) => /^turns?:127\.0\.0\.1:/.test(url)),
            `${who}: only the node's own TURN server is configured: ${JSON.stringify(pair.iceServers)}`,
          );
        }
      }
      // The firewall really stood in the way: the browser's packets to the media ports were refused.
      const counters = execFileSync('iptables', ['-L', 'OUTPUT', '-v', '-n', '-x'], { encoding: 'utf8' });
      const udpRefused = Number(counters.split('\n').find((l) => /REJECT.*udp/.test(l))?.trim().split(/\s+/)[0] ?? 0);
      assert.ok(udpRefused > 0, `the browser tried the media ports directly and was refused:\n${counters}`);
    });

    e2e.test('with UDP to the TURN port blocked as well, the relay runs over TURN/TCP', { timeout: 120_000 }, async () => {
      // The rules of the test before stay; the TURN port is --media-port + 100 by default.
      const turnPort = e2e.server.mediaPort + 100;
      execFileSync('iptables', ['-A', 'OUTPUT', '-m', 'owner', '--uid-owner', String(BROWSER_UID), '-p', 'udp', '--dport', String(turnPort), '-j', 'REJECT']);
      const space = await e2e.env.createSpace();
      const sub = await e2e.joined('viewer', space.id, { role: 'subscriber' });
      const pub = await e2e.joined('camera', space.id);
      const cam = await pub.p.publishCamera();
      assert.equal(cam.ok, true, `publishCamera: ${JSON.stringify(cam.error)}`);
      await sub.p.waitForFrames(pub.id, 10, 45_000);
      for (const [who, p] of [['subscriber', sub.p], ['publisher', pub.p]]) {
        const pairs = (await selectedPairs(p)).filter((s) => s.state === 'connected');
        assert.ok(pairs.length >= 1, `${who}: a connected peer connection: ${JSON.stringify(pairs)}`);
        for (const pair of pairs) {
          assert.equal(pair.localType, 'relay', `${who}: ${JSON.stringify(pair)}`);
          assert.equal(pair.relayProtocol, 'tcp', `${who}: relayed over TCP to the TURN server: ${JSON.stringify(pair)}`);
        }
      }
    });
  });
}
