// A webhook endpoint on 127.0.0.1 that verifies every delivery as a Mux app does, with
// @mux/mux-node 7.3.5's Webhooks.verifyHeader, and also the way Mux Meet does it (the body
// parsed by its framework, then JSON.stringify'd again). It can answer 500, stall, or go
// away and come back on the same port.

import http from 'node:http';
import assert from 'node:assert/strict';
import Mux from '@mux/mux-node';
import { freeTcpPort, sleep } from './oriel.mjs';

export class WebhookReceiver {
  constructor(name = 'receiver') {
    this.name = name;
    this.port = null;
    this.server = null;
    /** Verified deliveries, in arrival order: { body, raw, signature, at } */
    this.deliveries = [];
    /** Deliveries that failed verification (they fail the test). */
    this.rejected = [];
    /** 'ok' answers 200; 'fail' answers 500. */
    this.mode = 'ok';
    this.secret = null;
    /** Called with each verified body, as an app's handler would be (errors are kept). */
    this.onDelivery = null;
    this.handlerErrors = [];
    this.sockets = new Set();
    this.waiters = [];
  }

  get url() {
    return `http://127.0.0.1:${this.port}/mux-webhooks`;
  }

  async start() {
    if (this.port === null) this.port = await freeTcpPort();
    this.server = http.createServer((req, res) => this.#handle(req, res));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', resolve);
    });
    return this;
  }

  /** Verification failures and handler errors so far: a test asserts there are none. */
  problems() {
    return [...this.rejected.map((r) => r.error), ...this.handlerErrors];
  }

  /** Closes the port (connections refused) and drops kept-alive connections. */
  async stop() {
    if (!this.server) return;
    const closed = new Promise((resolve) => this.server.close(resolve));
    for (const socket of this.sockets) socket.destroy();
    await closed;
    this.server = null;
  }

  #handle(req, res) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const signature = req.headers['mux-signature'];
      try {
        assert.equal(req.method, 'POST');
        assert.equal(req.headers['content-type'], 'application/json');
        Mux.Webhooks.verifyHeader(raw, signature, this.secret);
        const body = JSON.parse(raw);
        // Mux Meet verifies what its framework parsed, serialised again.
        Mux.Webhooks.verifyHeader(JSON.stringify(body), signature, this.secret);
        if (this.mode === 'ok') {
          this.deliveries.push({ body, raw, signature, at: Date.now() });
          for (const w of this.waiters.splice(0)) w();
          if (this.onDelivery) Promise.resolve(this.onDelivery(body)).catch((e) => this.handlerErrors.push(String(e)));
        }
      } catch (e) {
        this.rejected.push({ raw, signature, error: String(e) });
        res.writeHead(400).end('bad signature');
        return;
      }
      if (this.mode === 'ok') res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      else res.writeHead(500, { 'content-type': 'text/plain' }).end('failing on purpose');
    });
  }

  /** Event types received so far, in order, optionally only those of one object. */
  types(objectId) {
    return this.deliveries
      .filter((d) => objectId === undefined || d.body.object.id === objectId || d.body.data?.space_id === objectId)
      .map((d) => d.body.type);
  }

  /** Waits until `predicate(this.deliveries)` holds. */
  async waitFor(predicate, { timeoutMs = 15_000, what = 'deliveries' } = {}) {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.deliveries)) {
      const left = deadline - Date.now();
      if (left <= 0) {
        assert.fail(`${this.name}: timed out waiting for ${what}; got ${JSON.stringify(this.types())}`);
      }
      await Promise.race([new Promise((r) => this.waiters.push(r)), sleep(Math.min(left, 500))]);
    }
    return this.deliveries;
  }
}
