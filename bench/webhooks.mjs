// The delay from a change to its webhook's delivery: 1,000 spaces created through the REST API
// (8 at a time), each `video.space.created` received by a local endpoint that verifies it with
// @mux/mux-node 7.3.5; the delay is the receipt time minus the event's `created_at`, which the
// store stamps in the transaction of the change. Run alone, then again beside an endpoint that
// answers 500 to everything. Writes its section of bench/RESULTS.md (see bench/webhooks.sh).

import fs from 'node:fs';
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { startOriel, dataOf } from '../tests/lib/oriel.mjs';
import { WebhookReceiver } from '../tests/lib/webhook-receiver.mjs';

// The SDK is a dependency of tests/, installed there.
const Mux = createRequire(new URL('../tests/package.json', import.meta.url))('@mux/mux-node');
const EVENTS = Number(process.env.WEBHOOK_BENCH_EVENTS || 1000);
const CONCURRENCY = 8;
const DEADLINE_MS = 120_000;
const results = process.argv[2];

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function run(oriel, token, { withFailing }) {
  const mux = new Mux(token.id, token.secret, { baseUrl: oriel.baseUrl });
  const good = await new WebhookReceiver('bench').start();
  const endpoints = [];
  const register = async (r) => {
    const e = dataOf(await oriel.api('POST', '/system/v1/webhooks', { token, body: { url: r.url } }), 201);
    r.secret = e.signing_secret;
    endpoints.push(e);
  };
  await register(good);
  let bad = null;
  if (withFailing) {
    bad = await new WebhookReceiver('failing').start();
    bad.mode = 'fail';
    await register(bad);
  }
  const started = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < EVENTS && Date.now() - started < DEADLINE_MS) {
        next += 1;
        await mux.Video.Spaces.create({ passthrough: 'bench' });
      }
    }),
  );
  const apiMs = Date.now() - started;
  await good.waitFor((ds) => ds.length >= EVENTS, { timeoutMs: DEADLINE_MS, what: `${EVENTS} deliveries` });
  const delays = good.deliveries.map((d) => d.at - Date.parse(d.body.created_at)).sort((a, b) => a - b);
  for (const e of endpoints) await oriel.api('DELETE', `/system/v1/webhooks/${e.id}`, { token });
  await good.stop();
  await bad?.stop();
  if (good.problems().length) throw new Error(`deliveries failed verification: ${good.problems()[0]}`);
  return { p50: percentile(delays, 50), p99: percentile(delays, 99), max: delays[delays.length - 1], apiMs };
}

// The API's per-token rate limit (200/s) would pace the creates rather than the deliveries.
const oriel = await startOriel({ name: 'webhook-bench', extraArgs: ['--api-rate-limit', '100000', '--api-rate-burst', '100000'] });
let rows;
try {
  const token = await oriel.createAccessToken('bench');
  const alone = await run(oriel, token, { withFailing: false });
  const beside = await run(oriel, token, { withFailing: true });
  const row = (name, r) =>
    `| ${name} | ${EVENTS} | ${r.p50} | ${r.p99} | ${r.max} | ${Math.round((EVENTS * 1000) / r.apiMs)} |`;
  rows = [row('one endpoint', alone), row('beside an endpoint answering 500', beside)].join('\n');
} finally {
  await oriel.stop();
  oriel.cleanup();
}

const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD']).toString().trim();
const section = `<!-- webhooks:begin (bench/webhooks.sh) -->
## Webhooks: from a change to its delivery

Written by \`bench/webhooks.sh\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, commit ${commit}.
Machine: ${cpu}, ${os.cpus().length} CPUs. Spaces created through the REST API, ${CONCURRENCY} requests
at a time; each \`video.space.created\` is delivered to a receiver on 127.0.0.1 that verifies its
signature with @mux/mux-node 7.3.5. Delay: receipt minus the event's \`created_at\` (stamped by the
store in the transaction of the change), in ms. The second run adds an endpoint of the same
environment that answers 500 to everything (retried meanwhile).

| run | events | p50 (ms) | p99 (ms) | max (ms) | API creates/s |
|---|---|---|---|---|---|
${rows}
<!-- webhooks:end -->`;
console.log(section);
if (results) {
  const text = fs.existsSync(results) ? fs.readFileSync(results, 'utf8') : '';
  const pattern = /<!-- webhooks:begin[\s\S]*?<!-- webhooks:end -->/;
  fs.writeFileSync(results, pattern.test(text) ? text.replace(pattern, section) : `${text.trimEnd()}\n\n${section}\n`);
}
