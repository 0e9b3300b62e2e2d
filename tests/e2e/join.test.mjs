// Joining with the unmodified @mux/spaces-web@1.2.0 in real Chromium: what works without media.
//
// Subscriber-role tokens only (no media needed); media.test.mjs has the publishers.

import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { useE2E, eventually } from './lib/fixture.mjs';

const SUBSCRIBER = 2; // MuxSpaces.ParticipantRole.Subscriber

const e2e = useE2E();

let counter = 0;
/** A participant_id unique within the run, readable in the server log. */
const pid = (name) => `${name}-${process.pid}-${++counter}`;

async function spaceStatus(spaceId) {
  const space = await e2e.env.getSpace(spaceId);
  return { status: space.status, active_session_id: space.active_session_id };
}

function assertIdle(space, what) {
  assert.equal(space.status, 'idle', `${what}: status`);
  assert.ok(!space.active_session_id, `${what}: no active_session_id while idle, got ${space.active_session_id}`);
}

describe('join with the unmodified SDK', () => {
  e2e.test('a subscriber joins: join() resolves with the token identity, the space is active, and idle soon after leave()', async (t) => {
    const space = await e2e.env.createSpace();
    assertIdle(await spaceStatus(space.id), 'new space');

    const aliceId = pid('alice');
    const jwt = e2e.env.sign(space.id, { participantId: aliceId, role: 'subscriber' });
    const alice = await e2e.participant('alice');
    const t0 = Date.now();
    const joined = await alice.join(jwt);
    const joinMs = Date.now() - t0;
    assert.equal(joined.ok, true, `join() rejected: ${JSON.stringify(joined.error)}`);
    assert.ok(joinMs < 5000, `join() took ${joinMs} ms`);
    assert.equal(joined.localParticipant.id, aliceId, 'localParticipant.id is the token participant_id');
    assert.equal(joined.localParticipant.role, SUBSCRIBER);
    assert.equal(typeof joined.localParticipant.connectionId, 'string');
    assert.ok(joined.localParticipant.connectionId.length > 0, 'connectionId is set');
    assert.equal(typeof joined.sessionId, 'string');
    assert.ok(joined.sessionId.length > 0, 'space.sessionId is set');
    assert.equal(joined.broadcasting, false);

    const active = await spaceStatus(space.id);
    assert.equal(active.status, 'active', 'the REST API shows the space active while a participant is joined');
    assert.equal(typeof active.active_session_id, 'string');
    assert.ok(active.active_session_id.length > 0);
    assert.equal(active.active_session_id, joined.sessionId, 'REST active_session_id is the session the SDK joined');

    // Alone in the space: no remote participant, no event about itself.
    const events = await alice.events();
    assert.deepEqual(
      events.filter((e) => e.name === 'ParticipantJoined'),
      [],
      'nobody else is in the space',
    );
    // The SDK must not have gone anywhere but oriel (no public STUN, no telemetry script).
    assert.deepEqual(alice.externalRequests, []);
    // A subscriber gets at most one subscriber PC (one sub_sfus entry) and no publisher PC; none
    // may fall back to the SDK's public STUN server.
    const pcs = await alice.peerConnections();
    assert.ok(pcs.length <= 1, `a subscriber has at most one (subscriber) peer connection: ${JSON.stringify(pcs)}`);
    for (const pc of pcs) {
      for (const server of pc.iceServers || []) {
        for (const url of [].concat(server.urls)) assert.doesNotMatch(url, /google\.com/, 'no fallback STUN server');
      }
    }
    assert.deepEqual(alice.pageErrors, [], 'no uncaught error in the page');

    await alice.leave();
    const { ms } = await eventually(
      () => spaceStatus(space.id),
      (s) => s.status === 'idle',
      { timeoutMs: 2000, what: 'space idle after leave()' },
    );
    assertIdle(await spaceStatus(space.id), `after leave() (${ms} ms)`);
    t.diagnostic(`join() resolved in ${joinMs} ms; the REST API showed idle ${ms} ms after leave()`);

    // Joining again opens a new active period with a new session id.
    const again = await e2e.participant('alice-again');
    const rejoined = await again.join(e2e.env.sign(space.id, { participantId: aliceId, role: 'subscriber' }));
    assert.equal(rejoined.ok, true, `re-join rejected: ${JSON.stringify(rejoined.error)}`);
    const active2 = await spaceStatus(space.id);
    assert.equal(active2.status, 'active');
    assert.equal(active2.active_session_id, rejoined.sessionId);
    assert.notEqual(active2.active_session_id, active.active_session_id, 'a new active period has a new session id');
    await again.leave();
    await eventually(() => spaceStatus(space.id), (s) => s.status === 'idle', { what: 'idle after the second leave()' });
  });

  e2e.test('a second subscriber sees the first in the joined list (ParticipantJoined); the space stays active until both left', async () => {
    const space = await e2e.env.createSpace();
    const aliceId = pid('alice');
    const bobId = pid('bob');
    const alice = await e2e.participant('alice');
    const bob = await e2e.participant('bob');

    const a = await alice.join(e2e.env.sign(space.id, { participantId: aliceId, role: 'subscriber' }), { displayName: 'Alice' });
    assert.equal(a.ok, true, `alice: ${JSON.stringify(a.error)}`);
    const b = await bob.join(e2e.env.sign(space.id, { participantId: bobId, role: 'subscriber' }), { displayName: 'Bob' });
    assert.equal(b.ok, true, `bob: ${JSON.stringify(b.error)}`);
    assert.equal(b.localParticipant.id, bobId);
    assert.equal(b.sessionId, a.sessionId, 'both joined the same session');
    assert.notEqual(b.localParticipant.connectionId, a.localParticipant.connectionId);

    // The SDK emits ParticipantJoined for every entry of joined.participants, before join() resolves.
    const seen = await bob.waitForEvent('ParticipantJoined', (e) => e.args[0]?.id === aliceId, 2000);
    const remote = seen.args[0];
    assert.equal(remote.kind, 'participant');
    assert.equal(remote.local, false);
    assert.equal(remote.connectionId, a.localParticipant.connectionId, 'the remote carries alice\'s connection id');
    assert.equal(remote.role, SUBSCRIBER);
    assert.equal(remote.displayName, 'Alice', 'display_name from the query string reaches the others');
    assert.deepEqual(remote.tracks, []);
    const bobsJoins = (await bob.events()).filter((e) => e.name === 'ParticipantJoined');
    assert.deepEqual(bobsJoins.map((e) => e.args[0].id), [aliceId], 'joined.participants holds alice and excludes bob himself');

    const rest = await spaceStatus(space.id);
    assert.equal(rest.status, 'active');
    assert.equal(rest.active_session_id, a.sessionId);

    await alice.leave();
    // Bob is still connected: the space stays active in the same session.
    await new Promise((r) => setTimeout(r, 300));
    const stillActive = await spaceStatus(space.id);
    assert.equal(stillActive.status, 'active', 'one participant left, the other is still in');
    assert.equal(stillActive.active_session_id, a.sessionId);

    await bob.leave();
    await eventually(() => spaceStatus(space.id), (s) => s.status === 'idle', { what: 'idle after both left' });
    assert.deepEqual(alice.pageErrors, []);
    assert.deepEqual(bob.pageErrors, []);
    assert.deepEqual([...alice.externalRequests, ...bob.externalRequests], []);
  });

  e2e.test('live presence: participants already in get ParticipantJoined / ParticipantLeft for later arrivals and departures', async () => {
    const space = await e2e.env.createSpace();
    const alice = await e2e.joined('alice', space.id, { role: 'subscriber', options: { displayName: 'Alice' } });
    const bob = await e2e.joined('bob', space.id, { role: 'subscriber', options: { displayName: 'Bob' } });
    const carol = await e2e.joined('carol', space.id); // a publisher-role token, no tracks

    // Alice was first: she learns about bob and carol live (participant_connected).
    const bobAtAlice = await alice.p.waitForEvent('ParticipantJoined', (e) => e.args[0].id === bob.id, 3000);
    assert.equal(bobAtAlice.args[0].connectionId, bob.joined.localParticipant.connectionId);
    assert.equal(bobAtAlice.args[0].displayName, 'Bob');
    assert.equal(bobAtAlice.args[0].role, SUBSCRIBER);
    assert.deepEqual(bobAtAlice.args[0].tracks, []);
    const carolAtAlice = await alice.p.waitForEvent('ParticipantJoined', (e) => e.args[0].id === carol.id, 3000);
    assert.equal(carolAtAlice.args[0].connectionId, carol.joined.localParticipant.connectionId);
    assert.equal(carolAtAlice.args[0].role, 1, 'carol is a publisher');
    // Bob was in before carol: he got alice from `joined`, carol live.
    await bob.p.waitForEvent('ParticipantJoined', (e) => e.args[0].id === carol.id, 3000);
    const carolJoins = (await carol.p.events()).filter((e) => e.name === 'ParticipantJoined').map((e) => e.args[0].id);
    assert.deepEqual(carolJoins.sort(), [alice.id, bob.id].sort(), 'carol got both from joined.participants');

    // Nobody hears about themselves (participant_connected about oneself makes a phantom remote).
    for (const x of [alice, bob, carol]) {
      const own = x.joined.localParticipant.connectionId;
      const about = (await x.p.received('participant_connected')).filter((m) => m.value.connection_id === own);
      assert.deepEqual(about, [], `${x.id} got participant_connected about itself`);
      const joins = (await x.p.events()).filter((e) => e.name === 'ParticipantJoined');
      assert.ok(joins.every((e) => e.args[0].id !== x.id), `${x.id}: ParticipantJoined about itself`);
      assert.equal(joins.length, 2, `${x.id} sees exactly the two others: ${JSON.stringify(joins.map((e) => e.args[0].id))}`);
    }

    // Bob leaves: alice and carol get ParticipantLeft(bob), bob is gone from their lists.
    await bob.p.leave();
    for (const x of [alice, carol]) {
      const left = await x.p.waitForEvent('ParticipantLeft', (e) => e.args[0].id === bob.id, 3000);
      assert.equal(left.args[0].connectionId, bob.joined.localParticipant.connectionId);
      assert.deepEqual((await x.p.remoteParticipants()).map((r) => r.id).filter((id) => id === bob.id), []);
    }
    // Carol leaves too: alice gets ParticipantLeft(carol) and stays, the space stays active.
    await carol.p.leave();
    await alice.p.waitForEvent('ParticipantLeft', (e) => e.args[0].id === carol.id, 3000);
    const left = (await alice.p.events()).filter((e) => e.name === 'ParticipantLeft').map((e) => e.args[0].id);
    assert.deepEqual(left, [bob.id, carol.id], 'one ParticipantLeft per departure, in order');
    assert.equal((await e2e.spaceStatus(space.id)).status, 'active');
    assert.deepEqual([...alice.p.pageErrors, ...bob.p.pageErrors, ...carol.p.pageErrors], []);
    await alice.p.leave();
    await eventually(() => e2e.spaceStatus(space.id), (s) => s.status === 'idle', { what: 'idle after everyone left' });
  });
});

describe('refused joins reject join() with JWTError', () => {
  /** Joins with `jwt` in a fresh page and returns the join result; asserts the refusal shape. */
  async function refused(name, jwt, messagePattern) {
    const p = await e2e.participant(name);
    const result = await p.join(jwt);
    assert.equal(result.ok, false, `${name}: join() resolved although the server should refuse it`);
    assert.equal(result.stage, 'join', `${name}: failed at ${result.stage}: ${JSON.stringify(result.error)}`);
    assert.notEqual(result.error.name, 'HarnessTimeout', `${name}: join() never settled (server closed without an error frame?)`);
    assert.equal(result.error.name, 'JWTError', `${name}: ${JSON.stringify(result.error)}`);
    assert.equal(result.error.isJWTError, true, 'instanceof MuxSpaces.JWTError');
    assert.match(result.error.message, messagePattern, `${name}: the server's message reaches the app`);
    assert.deepEqual(p.pageErrors, []);
    return { p, result };
  }

  e2e.test('an expired token', async () => {
    const space = await e2e.env.createSpace();
    const jwt = e2e.env.sign(space.id, { participantId: pid('late'), role: 'subscriber', expiration: '-1h' });
    await refused('expired', jwt, /expired/i);
    assertIdle(await spaceStatus(space.id), 'after a refused join');
  });

  e2e.test('a token signed by a deleted signing key', async () => {
    const space = await e2e.env.createSpace();
    const doomed = await e2e.env.mux.Video.SigningKeys.create();
    const jwt = e2e.env.sign(space.id, { participantId: pid('orphan'), role: 'subscriber', signingKey: doomed });
    await e2e.env.mux.Video.SigningKeys.del(doomed.id);
    await refused('deleted-key', jwt, /signing key/i);
    assertIdle(await spaceStatus(space.id), 'after a refused join');
  });

  e2e.test('a token for a space of another environment', async () => {
    const other = await e2e.server.environment('e2e-other');
    const foreignSpace = await other.createSpace();
    // Signed with this environment's key, naming the other environment's space.
    const jwt = e2e.env.sign(foreignSpace.id, { participantId: pid('stranger'), role: 'subscriber' });
    await refused('other-environment', jwt, /environment|space/i);
    assertIdle(await other.getSpace(foreignSpace.id), 'the foreign space after a refused join');
    // The same space admits a token signed with its own environment's key (the refusal was about the key).
    const own = await e2e.participant('own-environment');
    const ok = await own.join(other.sign(foreignSpace.id, { participantId: pid('native'), role: 'subscriber' }));
    assert.equal(ok.ok, true, `own-environment join: ${JSON.stringify(ok.error)}`);
    await own.leave();
  });

  e2e.test('a participant_id that is already connected (error type 3)', async () => {
    const space = await e2e.env.createSpace();
    const id = pid('twin');
    const first = await e2e.participant('first');
    const a = await first.join(e2e.env.sign(space.id, { participantId: id, role: 'subscriber' }));
    assert.equal(a.ok, true, `first: ${JSON.stringify(a.error)}`);

    await refused('duplicate', e2e.env.sign(space.id, { participantId: id, role: 'subscriber' }), /already connected|duplicate/i);

    // The refusal does not disturb the participant already in.
    const rest = await spaceStatus(space.id);
    assert.equal(rest.status, 'active');
    assert.equal(rest.active_session_id, a.sessionId);
    const firstEvents = await first.events();
    assert.deepEqual(firstEvents.filter((e) => e.name.startsWith('LocalParticipantReconnect')), [], 'the first connection was not dropped');

    // Once the first has left, the same participant_id may join again.
    await first.leave();
    await eventually(() => spaceStatus(space.id), (s) => s.status === 'idle', { what: 'idle after the first left' });
    const second = await e2e.participant('second');
    const b = await second.join(e2e.env.sign(space.id, { participantId: id, role: 'subscriber' }));
    assert.equal(b.ok, true, `after the first left: ${JSON.stringify(b.error)}`);
    await second.leave();
  });
});
