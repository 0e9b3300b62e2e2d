// Space-wide events with the unmodified @mux/spaces-web@1.2.0: custom events and display names
// (active speakers: speakers.test.mjs). What the SDK refuses client-side is also sent raw (lib/raw-signal.mjs) to prove
// that the server refuses it too.

import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { useE2E, eventually, sleep, pid } from './lib/fixture.mjs';

const e2e = useE2E();

/** The SDK's client-side cooldown between two custom events is 1000 / custom_events_per_second (5) ms. */
const CUSTOM_EVENT_GAP_MS = 250;

/** ParticipantCustomEventPublished events of a page from remote senders: [{from, payload, sequenceNumber, scope}]. */
async function customEventsAt(p) {
  return (await p.events())
    .filter((e) => e.name === 'ParticipantCustomEventPublished' && e.args[0].local === false)
    .map((e) => ({ from: e.args[0].id, ...e.args[1] }));
}

describe('custom events', () => {
  e2e.test('publishCustomEvent resolves for the sender; the others get ParticipantCustomEventPublished with the payload and increasing sequence numbers across two senders', async () => {
    const space = await e2e.env.createSpace();
    const alice = await e2e.joined('alice', space.id);
    const bob = await e2e.joined('bob', space.id);
    const carol = await e2e.joined('carol', space.id, { role: 'subscriber' });

    const sent = [];
    for (const [sender, payload] of [[alice, 'hello from alice'], [bob, '{"json":true,"n":2}'], [alice, 'ünïcödé ✓ again'], [bob, 'bye']]) {
      const r = await sender.p.customEvent(payload);
      assert.equal(r.ok, true, `${sender.id}: publishCustomEvent rejected: ${JSON.stringify(r.error)}`);
      // The sender's promise resolves with the raw wire object (notes §0.8).
      assert.equal(r.value.payload, payload);
      assert.equal(r.value.connection_id, sender.joined.localParticipant.connectionId);
      assert.equal(typeof r.value.sequence_num, 'number');
      sent.push({ from: sender.id, payload, sequenceNumber: r.value.sequence_num });
      await sleep(CUSTOM_EVENT_GAP_MS);
    }
    const seqs = sent.map((s) => s.sequenceNumber);
    for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] > seqs[i - 1], `sequence numbers increase across senders: ${seqs}`);

    // Carol (a subscriber) gets all four, in order, with the sender's sequence numbers.
    await eventually(() => customEventsAt(carol.p), (evs) => evs.length >= 4, { timeoutMs: 5000, what: 'four custom events at carol' });
    const atCarol = await customEventsAt(carol.p);
    assert.deepEqual(atCarol.map(({ from, payload, sequenceNumber }) => ({ from, payload, sequenceNumber })), sent);
    assert.ok(atCarol.every((e) => e.scope === 1), 'scope SESSION');
    // Each sender gets the other's events only (its own come back as the promise resolution).
    await eventually(() => customEventsAt(alice.p), (evs) => evs.length >= 2, { timeoutMs: 5000, what: 'bob\'s events at alice' });
    assert.deepEqual((await customEventsAt(alice.p)).map((e) => e.payload), ['{"json":true,"n":2}', 'bye']);
    await eventually(() => customEventsAt(bob.p), (evs) => evs.length >= 2, { timeoutMs: 5000, what: 'alice\'s events at bob' });
    assert.deepEqual((await customEventsAt(bob.p)).map((e) => e.payload), ['hello from alice', 'ünïcödé ✓ again']);
    // The echo carries request_id only for the sender.
    const echoes = (await alice.p.received('custom_event')).filter((m) => m.value.connection_id === alice.joined.localParticipant.connectionId);
    assert.equal(echoes.length, 2);
    assert.ok(echoes.every((m) => typeof m.request_id === 'string' && m.request_id.length > 0));
    assert.ok((await carol.p.received('custom_event')).every((m) => m.request_id === undefined), 'no request_id in others\' copies');

    // Over 4096 bytes (2049 two-byte characters: 4098 bytes): the SDK refuses before sending.
    const framesBefore = (await alice.p.signalFrames()).length;
    const big = await alice.p.customEvent('é'.repeat(2049));
    assert.equal(big.ok, false, 'a 4098-byte payload must be refused');
    assert.match(big.error.message, /4 kilobytes/);
    const sentAfter = (await alice.p.signalFrames()).slice(framesBefore).filter((f) => f.dir === 'out' && f.data.custom_event);
    assert.deepEqual(sentAfter, [], 'refused client-side: nothing went out');
    assert.deepEqual([...alice.p.pageErrors, ...bob.p.pageErrors, ...carol.p.pageErrors], []);
  });

  e2e.test('the server refuses a custom_event over 4096 bytes (raw ws): error type 5 with the request id, and nobody else receives it', async () => {
    const space = await e2e.env.createSpace();
    const viewer = await e2e.joined('viewer', space.id, { role: 'subscriber' });
    const raw = await e2e.raw(e2e.env.sign(space.id, { participantId: pid('raw-sender') }));
    await viewer.p.waitForEvent('ParticipantJoined', (e) => e.args[0].connectionId === raw.connectionId, 3000);

    const from = raw.frames.length;
    await raw.send({ custom_event: { id: 'too-big', payload: 'x'.repeat(4097), scope: 1 }, request_id: 'too-big' });
    const error = await raw.next((m) => m.error, 3000, 'an error for the oversized custom_event', { from });
    assert.equal(error.error.type, 5, `CustomEventError: ${JSON.stringify(error)}`);
    assert.equal(error.error.request_error?.correlator, 'too-big');
    assert.equal(typeof error.error.message, 'string');
    assert.notEqual(error.error.fatal, true, 'a refused request does not end the connection');

    // Exactly 4096 bytes is allowed; it comes back with its request_id. It is sent after the
    // oversized one, so once the viewer has it, the oversized one would have arrived before it.
    await raw.send({ custom_event: { id: 'just-fits', payload: 'y'.repeat(4096), scope: 1 }, request_id: 'just-fits' });
    const echo = await raw.next((m) => m.custom_event && m.request_id === 'just-fits', 3000, 'the echo of the 4096-byte event', { from });
    assert.equal(echo.custom_event.payload.length, 4096);
    const events = await eventually(() => viewer.p.events(), (evs) => evs.some((e) => e.name === 'ParticipantCustomEventPublished'), { timeoutMs: 3000, what: 'the 4096-byte event at the viewer' });
    const got = events.value.filter((e) => e.name === 'ParticipantCustomEventPublished').map((e) => e.args[1].payload.length);
    assert.deepEqual(got, [4096], 'the viewer got the 4096-byte event and never the 4097-byte one');
    assert.deepEqual((await viewer.p.received('custom_event')).map((m) => m.value.id), ['just-fits']);
    assert.equal(raw.closeInfo, null, 'the sender is still connected');
  });

  e2e.test('a burst of custom events beyond the rate limit gets error type 6 from the server (raw ws); only the admitted ones reach the others', async () => {
    const space = await e2e.env.createSpace();
    const viewer = await e2e.joined('viewer', space.id, { role: 'subscriber' });
    const raw = await e2e.raw(e2e.env.sign(space.id, { participantId: pid('raw-burst') }));
    const perSecond = raw.joined.limits.custom_events_per_second;
    assert.ok(perSecond > 0 && perSecond < 50, `limits.custom_events_per_second = ${perSecond}`);
    await viewer.p.waitForEvent('ParticipantJoined', (e) => e.args[0].connectionId === raw.connectionId, 3000);

    const burst = perSecond * 4;
    const ids = Array.from({ length: burst }, (_, i) => `burst-${i}`);
    const from = raw.frames.length;
    for (const id of ids) await raw.send({ custom_event: { id, payload: id, scope: 1 }, request_id: id });
    // Every request is answered: an echo or an error.
    const answered = () => {
      const replies = raw.frames.slice(from).map((f) => f.data);
      const ok = replies.filter((m) => m.custom_event && ids.includes(m.request_id)).map((m) => m.request_id);
      const refused = replies.filter((m) => m.error).map((m) => m.error);
      return { ok, refused };
    };
    const { value } = await eventually(answered, (v) => v.ok.length + v.refused.length >= burst, { timeoutMs: 5000, what: `answers to all ${burst} custom events` });
    assert.ok(value.refused.length > 0, `no error for a burst of ${burst} events at ${perSecond}/s`);
    for (const e of value.refused) {
      assert.equal(e.type, 6, `CustomEventRateLimited: ${JSON.stringify(e)}`);
      assert.ok(ids.includes(e.request_error?.correlator), `the correlator names one request: ${JSON.stringify(e)}`);
    }
    const refusedIds = value.refused.map((e) => e.request_error.correlator);
    assert.deepEqual([...value.ok, ...refusedIds].sort(), [...ids].sort(), 'each request answered exactly once');
    assert.ok(value.ok.length <= perSecond + 2, `${value.ok.length} of ${burst} admitted at once (limit ${perSecond}/s)`);

    // The viewer gets exactly the admitted ones, in order.
    const last = value.ok.at(-1);
    await eventually(() => viewer.p.received('custom_event'), (ms) => ms.some((m) => m.value.id === last), { timeoutMs: 3000, what: 'the admitted events at the viewer' });
    await sleep(200);
    assert.deepEqual((await viewer.p.received('custom_event')).map((m) => m.value.id), value.ok);
    assert.equal(raw.closeInfo, null, 'rate limiting is per request, not the end of the connection');

    // After a second the bucket has refilled.
    await sleep(1100);
    await raw.send({ custom_event: { id: 'later', payload: 'later', scope: 1 }, request_id: 'later' });
    await raw.next((m) => m.custom_event && m.request_id === 'later', 3000, 'an echo after the refill');
  });
});

describe('display names', () => {
  e2e.test('displayName at join is seen by the others; setDisplayName → ParticipantDisplayNameChanged at the others with the new name', async () => {
    const space = await e2e.env.createSpace();
    const alice = await e2e.joined('alice', space.id, { options: { displayName: 'Alice' } });
    const bob = await e2e.joined('bob', space.id, { role: 'subscriber', options: { displayName: 'Bob' } });
    const carol = await e2e.joined('carol', space.id, { role: 'subscriber' });
    assert.equal(alice.joined.localParticipant.displayName, 'Alice');

    // From joined.participants (bob, carol) and live (alice).
    assert.equal((await bob.p.waitForEvent('ParticipantJoined', (e) => e.args[0].id === alice.id, 2000)).args[0].displayName, 'Alice');
    assert.equal((await carol.p.waitForEvent('ParticipantJoined', (e) => e.args[0].id === alice.id, 2000)).args[0].displayName, 'Alice');
    assert.equal((await alice.p.waitForEvent('ParticipantJoined', (e) => e.args[0].id === bob.id, 2000)).args[0].displayName, 'Bob');
    assert.equal((await alice.p.waitForEvent('ParticipantJoined', (e) => e.args[0].id === carol.id, 2000)).args[0].displayName, '');

    const r = await alice.p.setDisplayName('Alice Liddell ✓');
    assert.equal(r.ok, true, JSON.stringify(r.error));
    assert.equal(r.displayName, 'Alice Liddell ✓');
    assert.equal((await alice.p.localParticipant()).displayName, 'Alice Liddell ✓');
    for (const x of [bob, carol]) {
      const changed = await x.p.waitForEvent('ParticipantDisplayNameChanged', (e) => e.args[0].id === alice.id, 3000);
      assert.equal(changed.args[0].displayName, 'Alice Liddell ✓');
      assert.equal((await x.p.remoteParticipants()).find((p) => p.id === alice.id).displayName, 'Alice Liddell ✓');
      const wire = await x.p.received('participant_update');
      assert.deepEqual(wire.map((m) => [m.value.connection_id, m.value.display_name, m.request_id]), [[alice.joined.localParticipant.connectionId, 'Alice Liddell ✓', undefined]]);
    }
    // A newcomer gets the new name in joined.participants.
    const raw = await e2e.raw(e2e.env.sign(space.id, { participantId: pid('raw-late'), role: 'subscriber' }));
    assert.equal(raw.joined.participants.find((p) => p.participant_id === alice.id).display_name, 'Alice Liddell ✓');
    assert.deepEqual([...alice.p.pageErrors, ...bob.p.pageErrors, ...carol.p.pageErrors], []);
  });

  e2e.test('an empty display name: the server answers error type 7 (SDK and raw ws); too long and too soon are refused too', async () => {
    const space = await e2e.env.createSpace();
    const viewer = await e2e.joined('viewer', space.id, { role: 'subscriber' });
    const sdk = await e2e.joined('sdk', space.id, { options: { displayName: 'Named' } });

    // The SDK sends "" (it only checks the length): the server's type 7 rejects the promise.
    const t0 = Date.now();
    const r = await sdk.p.setDisplayName('', 5000);
    assert.equal(r.ok, false);
    assert.notEqual(r.error.name, 'HarnessTimeout', 'the server must answer, not leave the request to time out');
    assert.ok(Date.now() - t0 < 3000);
    const sdkError = (await sdk.p.received('error')).at(-1);
    assert.equal(sdkError.value.type, 7, JSON.stringify(sdkError));

    const raw = await e2e.raw(e2e.env.sign(space.id, { participantId: pid('raw-namer') }), { displayName: 'Raw' });
    await raw.send({ set_display_name: '', request_id: 'empty-name' });
    const empty = await raw.next((m) => m.error, 3000, 'an error for an empty display name');
    assert.equal(empty.error.type, 7, JSON.stringify(empty));
    assert.equal(empty.error.request_error?.correlator, 'empty-name');

    let from = raw.frames.length;
    await raw.send({ set_display_name: 'n'.repeat(65), request_id: 'long-name' });
    const long = await raw.next((m) => m.error, 3000, 'an error for a 65-character display name', { from });
    assert.equal(long.error.type, 7, JSON.stringify(long));
    assert.equal(long.error.request_error?.correlator, 'long-name');

    from = raw.frames.length;
    await raw.send({ set_display_name: 'Raw Two', request_id: 'ok-name' });
    const ok = await raw.next((m) => m.participant_update || m.error, 3000, 'the answer to a valid name', { from });
    assert.deepEqual(ok, { participant_update: { connection_id: raw.connectionId, display_name: 'Raw Two' }, request_id: 'ok-name' });
    from = raw.frames.length;
    await raw.send({ set_display_name: 'Raw Three', request_id: 'too-soon' });
    const soon = await raw.next((m) => m.participant_update || m.error, 3000, 'the answer to a second name right away', { from });
    assert.equal(soon.error?.type, 8, `SetDisplayNameRateLimited: ${JSON.stringify(soon)}`);
    assert.equal(soon.error.request_error?.correlator, 'too-soon');

    // The viewer saw only the valid change, never an empty or refused name.
    await viewer.p.waitForEvent('ParticipantDisplayNameChanged', (e) => e.args[0].connectionId === raw.connectionId, 3000);
    await sleep(200);
    const names = (await viewer.p.received('participant_update')).map((m) => m.value.display_name);
    assert.deepEqual(names, ['Raw Two']);
    assert.equal((await viewer.p.remoteParticipants()).find((p) => p.id === sdk.id).displayName, 'Named');
  });
});
