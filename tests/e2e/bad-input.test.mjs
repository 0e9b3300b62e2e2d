// Bad input never disturbs anyone else: a raw `ws` client with a valid token sends malformed and
// hostile frames into a space where a real publisher page sends video to a real subscriber page,
// and garbage UDP goes to the media ports. The server answers with `error` frames (or closes that
// one socket), and the subscriber's decoded frames keep increasing throughout.

import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { describe } from 'node:test';
import { useE2E, eventually, sleep, pid } from './lib/fixture.mjs';

const e2e = useE2E();

const MEDIA_PORTS = 16; // lib/server.mjs: `--media-port P` may use P..P+15

/** A publisher page sending its camera and a subscriber page decoding it. */
async function liveSpace() {
  const space = await e2e.env.createSpace();
  const pub = await e2e.joined('pub', space.id);
  const cam = await pub.p.publishCamera();
  assert.equal(cam.ok, true, JSON.stringify(cam.error));
  const viewer = await e2e.joined('viewer', space.id, { role: 'subscriber' });
  await viewer.p.waitForFrames(pub.id, 20, 15_000);
  return { space, pub, viewer };
}

/** Resolves once `viewer` decoded `more` frames of `pub` beyond what it had at the call. */
async function stillDecoding(viewer, pub, more = 30, what = 'frames keep increasing') {
  const start = (await viewer.p.framesDecoded(pub.id)).framesDecoded;
  await eventually(() => viewer.p.framesDecoded(pub.id).then((f) => f.framesDecoded), (n) => n >= start + more, { timeoutMs: 10_000, intervalMs: 200, what: `${what} (from ${start})` });
}

describe('bad input', () => {
  e2e.test('malformed JSON, unknown messages, wrong shapes, a binary frame, garbage SDP: error frames for the sender, nobody else disturbed; a 300 KB frame closes that socket only', async (t) => {
    const { space, pub, viewer } = await liveSpace();
    const raw = await e2e.raw(e2e.env.sign(space.id, { participantId: pid('vandal') }));
    await viewer.p.waitForEvent('ParticipantJoined', (e) => e.args[0].connectionId === raw.connectionId, 3000);
    const viewerMark = (await viewer.p.events()).at(-1).seq;
    const pubMark = (await pub.p.events()).at(-1).seq;

    const garbage = [
      ['malformed JSON', 'this is {not json'],
      ['truncated JSON', '{"offer": "v=0'],
      ['a JSON array', '[1,2,3]'],
      ['a JSON string', '"offer"'],
      ['JSON null', 'null'],
      ['an unknown message key', JSON.stringify({ no_such_message: { x: 1 } })],
      ['an empty object', '{}'],
      ['an offer that is not a string', JSON.stringify({ offer: 42 })],
      ['a pending_track without fields', JSON.stringify({ pending_track: {} })],
      ['a candidate of type 7', JSON.stringify({ candidate: { candidate: { candidate: 'x', sdp_mline_index: 0, sdp_mid: '0', username_fragment: null }, type: 7, sfu_id: 'x' } })],
      ['an offer with garbage SDP', JSON.stringify({ offer: 'v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\nthis is not sdp\r\nm=video banana\r\n' })],
      ['an offer that is not SDP at all', JSON.stringify({ offer: '\u0000\u0001garbage'.repeat(100) })],
      ['a sub_answer with garbage SDP', JSON.stringify({ sub_answer: { sfu_id: 'whatever', sdp: 'garbage' } })],
    ];
    for (const [what, frame] of garbage) {
      const from = raw.frames.length;
      await raw.send(frame);
      const reply = await raw.next((m) => m.error || m.answer, 3000, `an error for ${what}`, { from });
      assert.ok(reply.error, `${what}: expected an error frame, got ${JSON.stringify(reply).slice(0, 300)}`);
      assert.equal(typeof reply.error.type, 'number', what);
      assert.ok(reply.error.message.length > 0, `${what}: a message`);
      assert.notEqual(reply.error.fatal, true, `${what}: not fatal`);
    }
    // A binary frame.
    let from = raw.frames.length;
    await raw.send(Buffer.from([0x7b, 0x00, 0xff, 0xfe, 0x22]), { binary: true });
    const binaryReply = await raw.next((m) => m.error, 3000, 'an error for a binary frame', { from });
    assert.match(binaryReply.error.message, /binary/i);
    // Harmless nonsense is ignored, not fatal: a garbage candidate, muting an unknown track,
    // subscribing in automatic mode to someone unknown (a failure in the reply).
    from = raw.frames.length;
    await raw.send({ candidate: { candidate: { candidate: 'candidate:garbage', sdp_mline_index: 0, sdp_mid: '0', username_fragment: 'x' }, type: 2, sfu_id: 'x' } });
    await raw.send({ mute_track: 'no-such-track' });
    await raw.send({ subscribe_tracks: { connections: [{ connection_id: 'nobody', track_ids: [] }] } });
    const subReply = await raw.next((m) => m.subscribe_tracks, 3000, 'a reply to subscribe_tracks', { from });
    assert.deepEqual(subReply.subscribe_tracks, { successes: [], failures: [{ connection_id: 'nobody' }] });
    assert.deepEqual(raw.frames.slice(from).map((f) => f.data).filter((m) => m.answer || m.track_muted), []);

    // The vandal's connection still works, and nobody else heard any of it.
    assert.equal(raw.closeInfo, null, 'the socket is still open after the garbage');
    from = raw.frames.length;
    await raw.send({ custom_event: { id: 'still-here', payload: 'still here', scope: 1 }, request_id: 'still-here' });
    await raw.next((m) => m.custom_event?.id === 'still-here', 3000, 'an echo after the garbage', { from });
    await stillDecoding(viewer, pub, 30, 'the viewer decodes the publisher during the garbage');
    for (const x of [viewer, pub]) {
      const received = (await x.p.signalFrames()).filter((f) => f.dir === 'in').map((f) => f.data);
      assert.deepEqual(received.filter((m) => m.error), [], `${x.id} got an error frame`);
      const fromRaw = received.filter((m) => m.custom_event);
      assert.deepEqual(fromRaw.map((m) => m.custom_event.id), ['still-here'], `${x.id} got only the real custom event`);
    }

    // 300 KB in one frame (limit 256 KiB): that socket is closed, the others go on.
    const t0 = Date.now();
    await raw.send(JSON.stringify({ custom_event: { id: 'huge', payload: 'z'.repeat(300 * 1024), scope: 1 }, request_id: 'huge' })).catch(() => {});
    const closed = await Promise.race([raw.closed, sleep(5000).then(() => null)]);
    assert.ok(closed, `the socket was not closed after a 300 KB frame; frames: ${raw.describe(5)}`);
    t.diagnostic(`300 KB frame: closed with ${JSON.stringify(closed)} after ${Date.now() - t0} ms`);
    await viewer.p.waitForEvent('ParticipantLeft', (e) => e.args[0].connectionId === raw.connectionId, 5000);
    await stillDecoding(viewer, pub, 30, 'the viewer decodes the publisher after the oversized frame');
    assert.deepEqual((await viewer.p.received('custom_event')).map((m) => m.value.id), ['still-here'], 'the huge event reached nobody');

    // Nothing happened to the real participants.
    const viewerEvents = (await viewer.p.events(viewerMark)).map((e) => e.name);
    assert.deepEqual(viewerEvents.filter((n) => !['ParticipantCustomEventPublished', 'ParticipantLeft'].includes(n)), [], `viewer events: ${viewerEvents}`);
    const pubEvents = (await pub.p.events(pubMark)).map((e) => e.name);
    assert.deepEqual(pubEvents.filter((n) => !['ParticipantCustomEventPublished', 'ParticipantLeft'].includes(n)), [], `publisher events: ${pubEvents}`);
    assert.deepEqual([...viewer.p.pageErrors, ...pub.p.pageErrors], []);
    assert.equal((await e2e.spaceStatus(space.id)).status, 'active');
  });

  e2e.test('1000 garbage UDP datagrams to the media ports (127.0.0.1): media keeps flowing', async (t) => {
    const { pub, viewer } = await liveSpace();
    const base = e2e.server.mediaPort;
    const sock = dgram.createSocket('udp4');
    await new Promise((r) => sock.bind(0, '127.0.0.1', r));
    const random = (n) => Buffer.from(Array.from({ length: n }, () => Math.floor(Math.random() * 256)));
    const kinds = [
      () => random(1 + Math.floor(Math.random() * 1200)), // noise
      () => Buffer.concat([Buffer.from([0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42]), random(20)]), // a STUN binding request that lies
      () => Buffer.concat([Buffer.from([0x80, 0x60]), random(200)]), // looks like RTP
      () => Buffer.concat([Buffer.from([0x80, 0xc8]), random(50)]), // looks like RTCP
      () => Buffer.concat([Buffer.from([0x16, 0xfe, 0xfd]), random(100)]), // looks like DTLS
      () => Buffer.alloc(0), // empty
    ];
    const TOTAL = 1000;
    const t0 = Date.now();
    const framesAtStart = (await viewer.p.framesDecoded(pub.id)).framesDecoded;
    let sent = 0;
    for (let i = 0; i < TOTAL; i++) {
      const port = base + (i % MEDIA_PORTS);
      await new Promise((resolve) => sock.send(kinds[i % kinds.length](), port, '127.0.0.1', () => resolve()));
      sent++;
      if (i % 100 === 99) await sleep(50); // ~1 s in all, bounded
    }
    sock.close();
    t.diagnostic(`sent ${sent} datagrams to 127.0.0.1:${base}..${base + MEDIA_PORTS - 1} in ${Date.now() - t0} ms`);
    const framesAfterBlast = (await viewer.p.framesDecoded(pub.id)).framesDecoded;
    assert.ok(framesAfterBlast > framesAtStart, `frames decoded during the blast: ${framesAtStart} → ${framesAfterBlast}`);
    await stillDecoding(viewer, pub, 30, 'the viewer decodes the publisher after the garbage datagrams');
    const health = await fetch(`${e2e.server.baseUrl}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual([...viewer.p.pageErrors, ...pub.p.pageErrors], []);
  });

  e2e.test(
    'a client-initiated close (1000) is answered with a close frame (a clean close)',
    async () => {
      const space = await e2e.env.createSpace();
      const raw = await e2e.raw(e2e.env.sign(space.id, { participantId: pid('polite'), role: 'subscriber' }));
      raw.ws.close(1000, 'bye');
      const info = await raw.closed;
      assert.equal(info.code, 1000, `close code seen by the client: ${JSON.stringify(info)}`);
    },
  );
});
