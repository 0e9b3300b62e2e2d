// A cluster of three nodes (issue 17): a private Redis and PostgreSQL, three `oriel serve` with
// the same --redis-url and --database-url, and in front of them TCP balancers that skip a node
// whose connect fails (each balancer tries a different node first, so the participants enter
// through nodes A, B and C). @mux/mux-node 7.3.5 makes the space on node A; the unmodified
// @mux/spaces-web 1.2.0 joins in Chromium.
//
// - Participants entering through A, B and C are served by the one node holding the space
//   (the others relay their WebSockets) and decode each other's video; the nodes fill a space
//   with two participants (--spill-space-after 2), so the third one's media is on another
//   node, which receives the other two's tracks over a link between the nodes (the space
//   spans nodes) and sends the third's camera back; the REST API of every node reports the
//   space active in one session, and every node's dashboard lists them.
// - The same participant_id joining through two nodes at once is refused once.
// - The node holding the space is killed (SIGKILL): every participant is back, decoding
//   video again, within 15 s, on a node placed anew; the REST API still says active, same
//   session. Then that node drains (SIGTERM): they move again, to the last node.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { OrielServer, Mux } from './lib/server.mjs';
import { launchBrowser } from './lib/browser.mjs';
import { RawSignal } from './lib/raw-signal.mjs';
import { startBalancer, startRedis, sharedStore } from './lib/cluster.mjs';
import { eventually, pid } from './lib/fixture.mjs';

const NAMES = ['a', 'b', 'c'];
const DASHBOARD_USER = { email: 'cluster@example.com', password: 'cluster-e2e-password' };
/** A space's participants on its node before the next ones' media goes to another node. */
const SPILL_AFTER = 2;
/** What the SDK must manage after its node dies (issue 17's acceptance). */
const BACK_WITHIN_MS = 15_000;

const cluster = { redis: null, store: null, nodes: [], balancers: [], browser: null, env: null, failed: false, dashboardSessions: new Map() };

/** Sum of framesDecoded over every inbound video stream of a page (old and new streams alike). */
const totalFrames = async (p) => (await p.inboundStats()).filter((s) => s.kind === 'video').reduce((n, s) => n + (s.framesDecoded || 0), 0);
const lastSeq = async (p) => (await p.events()).at(-1)?.seq ?? 0;

/** The node (of cluster.nodes) Redis says holds a space, or null. */
async function holderOf(spaceId) {
  const nodeId = await cluster.redis.get(`oriel:space:${spaceId}:node`);
  if (!nodeId) return null;
  const record = await cluster.redis.get(`oriel:node:${nodeId}`);
  if (!record) return null;
  const { url } = JSON.parse(record);
  return cluster.nodes.find((n) => url === `http://127.0.0.1:${n.port}`) || null;
}

/** {status, active_session_id} of a space through `node`'s REST API. */
async function statusOn(node, spaceId) {
  const { status, body } = await node.api('GET', `/video/v1/spaces/${spaceId}`, { token: cluster.env.token });
  assert.equal(status, 200, `GET space on node ${node.name}: ${JSON.stringify(body)}`);
  return { status: body.data.status, active_session_id: body.data.active_session_id };
}

/** The participant ids `node`'s dashboard lists in a space (signed in as the test's user). */
async function dashboardParticipants(node, spaceId) {
  const session = cluster.dashboardSessions.get(node);
  const res = await fetch(`${node.baseUrl}/dashboard/api/environments/${cluster.env.token.environment.id}/spaces/${spaceId}/participants`, {
    headers: { cookie: session },
    signal: AbortSignal.timeout(5000),
  });
  assert.equal(res.status, 200, `dashboard of node ${node.name}: ${await res.clone().text()}`);
  return (await res.json()).data.participants.map((p) => p.participant_id).sort();
}

/** A dashboard session cookie on `node`. */
async function signIn(node) {
  const res = await fetch(`${node.baseUrl}/dashboard/api/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(DASHBOARD_USER),
    signal: AbortSignal.timeout(10_000),
  });
  assert.equal(res.status, 200, `sign-in on node ${node.name}: ${await res.clone().text()}`);
  return res.headers.get('set-cookie').split(';')[0];
}

/** The node media ports a page's connected peer connections use. */
async function mediaPorts(p) {
  const pairs = (await p.selectedPairs()).filter((s) => s.state === 'connected');
  return pairs.map((pair) => pair.remotePort);
}

const alive = () => cluster.nodes.filter((n) => n.child && n.child.exitCode === null && n.child.signalCode === null);

async function report(name, participants) {
  cluster.failed = true;
  const parts = [`===== cluster failure report: ${name} =====`];
  for (const p of participants) parts.push(await p.report().catch((e) => `[report failed: ${e.message}]`));
  for (const node of cluster.nodes) parts.push(`----- node ${node.name} (port ${node.port}) -----\n${node.logTail(60)}`);
  process.stderr.write(`${parts.join('\n')}\n===== end of report =====\n`);
}

describe('a cluster of three nodes on Redis and PostgreSQL', () => {
  before(async () => {
    cluster.redis = await startRedis();
    cluster.store = await sharedStore();
    for (const name of NAMES) {
      const node = new OrielServer(name, null, ['--redis-url', cluster.redis.url, '--spill-space-after', String(SPILL_AFTER), ...cluster.store.nodeArgs]);
      await node.start();
      cluster.nodes.push(node);
    }
    for (let i = 0; i < NAMES.length; i++) cluster.balancers.push(await startBalancer(cluster.nodes, i));
    // Every node in the registry before the first join, so placement can pick among them.
    await eventually(() => cluster.redis.command('SMEMBERS', 'oriel:nodes'), (ids) => ids.length === NAMES.length, { timeoutMs: 5000, what: 'three nodes registered' });
    const token = await cluster.store.createAccessToken('e2e-cluster');
    const mux = new Mux(token.id, token.secret, { baseUrl: cluster.nodes[0].baseUrl });
    const key = await mux.Video.SigningKeys.create();
    cluster.env = {
      token,
      mux,
      sign: (spaceId, { participantId, role } = {}) =>
        Mux.JWT.signSpaceId(spaceId, { keyId: key.id, keySecret: key.private_key, params: { participant_id: participantId, ...(role ? { role } : {}) } }),
    };
    await cluster.store.createUser(DASHBOARD_USER.email, DASHBOARD_USER.password);
    for (const node of cluster.nodes) cluster.dashboardSessions.set(node, await signIn(node));
    cluster.browser = await launchBrowser();
  });

  after(async () => {
    await cluster.browser?.close();
    for (const lb of cluster.balancers) await lb.close();
    for (const node of cluster.nodes) {
      await node.stop();
      if (!cluster.failed && process.env.E2E_KEEP !== '1') node.cleanup();
      else process.stderr.write(`kept node ${node.name}'s data and log in ${node.root}\n`);
    }
    await cluster.store?.stop();
    await cluster.redis?.stop();
  });

  test('the same participant_id through two nodes at once is refused once', async () => {
    const space = await cluster.env.mux.Video.Spaces.create();
    for (let round = 0; round < 3; round++) {
      const jwt = cluster.env.sign(space.id, { participantId: pid('twice') });
      const [b, c] = [cluster.nodes[1], cluster.nodes[2]];
      const opened = await Promise.all([b, c].map((node) => RawSignal.open(node.backendUrl, jwt, { expectJoined: false, timeoutMs: 10_000 })));
      const firsts = opened.map((raw) => raw.frames[0]?.data);
      const joined = firsts.filter((m) => m?.joined);
      const refused = firsts.filter((m) => m?.error);
      try {
        assert.equal(joined.length, 1, `round ${round}: one joins: ${JSON.stringify(firsts).slice(0, 600)}`);
        assert.equal(refused.length, 1, `round ${round}: the other is refused`);
        assert.equal(refused[0].error.type, 3, 'as a duplicate participant (DuplicateParticipantRejected)');
      } catch (error) {
        await report('the same participant_id twice', []);
        throw error;
      } finally {
        for (const raw of opened) raw.close();
      }
    }
  });

  test(`participants through nodes A, B and C decode each other; the node holding the space killed, every one is back with video within ${BACK_WITHIN_MS / 1000} s; drained, again`, { timeout: 180_000 }, async (t) => {
    const participants = [];
    try {
      const space = await cluster.env.mux.Video.Spaces.create();
      const joinThrough = async (name, balancer, role) => {
        const p = await cluster.browser.participant(name, balancer.backendUrl);
        participants.push(p);
        const id = pid(name);
        const joined = await p.join(cluster.env.sign(space.id, { participantId: id, role }));
        assert.equal(joined.ok, true, `${name} joined: ${JSON.stringify(joined)}`);
        return { p, id, name };
      };
      const [lbA, lbB, lbC] = cluster.balancers;
      const alice = await joinThrough('alice', lbA);
      const bob = await joinThrough('bob', lbB);
      const carol = await joinThrough('carol', lbC);
      for (const who of [alice, bob, carol]) {
        const published = await who.p.publishCamera();
        assert.equal(published.ok, true, `${who.name} published: ${JSON.stringify(published.error)}`);
      }
      for (const [who, from] of [[alice, bob], [bob, alice], [carol, alice], [carol, bob], [alice, carol], [bob, carol]]) {
        await who.p.waitForFrames(from.id, 10, 20_000);
      }

      // One node holds the space; the first two's media goes to its media ports, the third's
      // to another node's: the space spans two nodes.
      const holder = await holderOf(space.id);
      assert.ok(holder, 'Redis names a live node holding the space');
      const nodeOfPort = (port) => cluster.nodes.find((n) => port >= n.mediaPort && port < n.mediaPort + 16);
      const mediaNodes = async (who) => [...new Set((await mediaPorts(who.p)).map((port) => nodeOfPort(port)?.name))];
      for (const who of [alice, bob]) {
        assert.deepEqual(await mediaNodes(who), [holder.name], `${who.name}'s media goes to node ${holder.name}, which holds the space`);
      }
      const spilled = await mediaNodes(carol);
      assert.equal(spilled.length, 1, `carol's media goes to one node: ${spilled}`);
      assert.notEqual(spilled[0], holder.name, `carol's media goes to another node than ${holder.name}, which has ${SPILL_AFTER} already`);
      t.diagnostic(`the space is on node ${holder.name}; carol's media on node ${spilled[0]}`);
      // Every node's REST API: active, one session.
      const statuses = await Promise.all(cluster.nodes.map((node) => statusOn(node, space.id)));
      const session = statuses[0].active_session_id;
      assert.ok(session, 'the space has an active session');
      for (const status of statuses) assert.deepEqual(status, { status: 'active', active_session_id: session });
      // Every node's dashboard lists the three of them (the holder from its media workers, the
      // others from what it publishes to Redis).
      const everyone = [alice.id, bob.id, carol.id].sort();
      for (const node of cluster.nodes) {
        await eventually(() => dashboardParticipants(node, space.id), (ids) => JSON.stringify(ids) === JSON.stringify(everyone), {
          timeoutMs: 5000,
          intervalMs: 250,
          what: `node ${node.name}'s dashboard lists the participants`,
        });
      }

      for (const [step, signal] of [['killed', 'SIGKILL'], ['drained', 'SIGTERM']]) {
        const gone = await holderOf(space.id);
        assert.ok(gone, `${step}: a node holds the space`);
        const marks = new Map();
        for (const who of [alice, bob, carol]) marks.set(who, { seq: await lastSeq(who.p), frames: await totalFrames(who.p) });
        const t0 = Date.now();
        gone.child.kill(signal);
        await gone.exited;
        t.diagnostic(`${step}: node ${gone.name} (${signal}) exited after ${Date.now() - t0} ms`);
        for (const who of [alice, bob, carol]) {
          await who.p.waitForEvent('LocalParticipantReconnected', (e) => e.seq > marks.get(who).seq, BACK_WITHIN_MS - (Date.now() - t0));
        }
        // Back with video: each one decodes 30 more frames.
        await Promise.all(
          [alice, bob, carol].map((who) =>
            eventually(() => totalFrames(who.p), (n) => n >= marks.get(who).frames + 30, {
              timeoutMs: Math.max(1000, BACK_WITHIN_MS - (Date.now() - t0)),
              intervalMs: 200,
              what: `${step}: ${who.name} decodes video again`,
            }),
          ),
        );
        t.diagnostic(`${step}: every participant back with video ${Date.now() - t0} ms after node ${gone.name} went`);
        for (const who of [alice, bob, carol]) {
          const failed = (await who.p.events(marks.get(who).seq)).filter((e) => e.name === 'LocalParticipantReconnectFailed');
          assert.deepEqual(failed, [], `${step}: ${who.name} reconnected`);
        }
        const now = await holderOf(space.id);
        assert.ok(now && now !== gone, `${step}: the space moved to a live node`);
        for (const node of alive()) {
          assert.deepEqual(await statusOn(node, space.id), { status: 'active', active_session_id: session }, `${step}: node ${node.name} reports the space active in its session`);
        }
      }

      for (const who of [alice, bob, carol]) await who.p.leave();
      await eventually(() => statusOn(alive()[0], space.id), (s) => s.status === 'idle', { timeoutMs: 5000, what: 'the space idle after everybody left' });
      for (const who of [alice, bob, carol]) assert.deepEqual(who.p.pageErrors, []);
    } catch (error) {
      await report('kill and drain', participants);
      throw error;
    } finally {
      await cluster.browser.closeParticipants();
    }
  });
});
