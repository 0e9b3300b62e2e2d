// Webhooks of a real call, as Mux Meet (Mux's demo app) uses them: two participants on the
// unmodified @mux/spaces-web@1.2.0 join and leave; a receiver on 127.0.0.1 verifies every
// delivery with @mux/mux-node 7.3.5 and, like Mux Meet, deletes the space when it hears
// `video.space.idle`, which is told too.

import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { useE2E, eventually } from './lib/fixture.mjs';
import { WebhookReceiver } from '../lib/webhook-receiver.mjs';

const e2e = useE2E();

describe('webhooks', () => {
  e2e.test("a call's events arrive in order, verified, and Mux Meet's idle handler deletes the space", async (t) => {
    const { mux, token } = e2e.env;
    const receiver = await new WebhookReceiver('meet').start();
    try {
      const created = await e2e.server.api('POST', '/system/v1/webhooks', { token, body: { url: receiver.url } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      receiver.secret = created.body.data.signing_secret;
      // Mux Meet: `if (type === 'video.space.idle') mux.Video.Spaces.delete(data.id)`.
      receiver.onDelivery = async (body) => {
        if (body.type === 'video.space.idle' && body.data.passthrough === 'meet') await mux.Video.Spaces.delete(body.data.id);
      };

      const space = await mux.Video.Spaces.create({ passthrough: 'meet' });
      const alice = await e2e.joined('alice', space.id);
      const bob = await e2e.joined('bob', space.id);
      await receiver.waitFor(() => receiver.types(space.id).filter((x) => x.endsWith('.joined')).length === 2, { what: 'two joins' });
      assert.equal((await alice.p.leave()).ok, true);
      assert.equal((await bob.p.leave()).ok, true);
      await receiver.waitFor(() => receiver.types(space.id).includes('video.space.deleted'), { what: 'the idle handler to delete the space' });
      await eventually(() => e2e.env.getSpace(space.id).then(() => 'exists', () => 'gone'), (v) => v === 'gone', { what: 'the space to be gone' });

      const types = receiver.types(space.id);
      t.diagnostic(types.join(' → '));
      assert.deepEqual(types, [
        'video.space.created',
        'video.space.active',
        'video.space.participant.joined',
        'video.space.participant.joined',
        'video.space.participant.left',
        'video.space.participant.left',
        'video.space.idle',
        'video.space.deleted',
      ]);
      const joins = receiver.deliveries.filter((d) => d.body.type === 'video.space.participant.joined');
      assert.deepEqual(joins.map((d) => d.body.data.participant_id).sort(), [alice.id, bob.id].sort());
      assert.ok(joins.every((d) => d.body.data.session_id === alice.joined.sessionId), 'joins name the session');
      const idle = receiver.deliveries.find((d) => d.body.type === 'video.space.idle');
      assert.equal(idle.body.data.status, 'idle');
      assert.equal(idle.body.data.passthrough, 'meet');
      assert.equal(idle.body.environment.name, e2e.env.name);
      assert.deepEqual(receiver.problems(), []);
    } finally {
      await receiver.stop();
    }
  });
});
