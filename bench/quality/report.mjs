// bench/quality/report.mjs RESULTS FIGURES_JSON: writes bench/quality.sh's section of
// bench/RESULTS.md (between the quality markers, replacing the previous one, or appended),
// Oriel and Janus side by side. The reading of the figures is written by hand after a run,
// inside the markers; a new run puts a placeholder in its place.

import fs from 'node:fs';

const [results, json] = process.argv.slice(2);
const f = JSON.parse(json);
const { oriel, janus, machine } = f;

const s1 = (ms) => (ms === null || ms === undefined ? '–' : `${(ms / 1000).toFixed(1)} s`);
const ms = (x) => `${Math.round(x)} ms`;
const fps = (sub, pub) => `${sub.toFixed(1)} / ${pub.toFixed(1)} (${pub > 0 ? Math.round((100 * sub) / pub) : 0} %)`;
const freezes = (x) => `${x.freezes}, ${x.freezeSeconds.toFixed(1)} s`;
const lower = (r) => (r.cap.lowerAtMs === null ? `never (stays ${r.cap.top} wide)` : `${s1(r.cap.lowerAtMs)} (${r.cap.top} → ${r.cap.lowerWidth} wide)`);
const back = (r) =>
  r.cap.lowerAtMs === null ? 'never lower' : r.cap.lifted.backToTopMs === null ? `not within ${s1(r.cap.lifted.windowMs)} (${r.cap.lifted.endWidth} wide)` : s1(r.cap.lifted.backToTopMs);
/** When the last gap over 300 ms ended (ms after `from` in its window), or none. */
const stallEnd = (stalls, value) => (stalls.length ? s1(value) : 'no gap over 300 ms');
const secs = (x) => `${Math.round(x / 1000)} s`;

const rows = [
  [`**5 % loss, 40 ± 20 ms jitter both ways**, ${secs(oriel.loss.windowMs)}`, 'frame rate, subscriber / publisher', (r) => fps(r.loss.fps, r.loss.publisherFps)],
  ['', 'longest gap', (r) => ms(r.loss.maxGapMs)],
  ['', 'freezes (count, total)', (r) => freezes(r.loss)],
  ['', 'mean jitter-buffer delay (subscriber)', (r) => ms(r.loss.jitterBufferMs)],
  [`**downlink capped at 400 kbit/s**, ${secs(oriel.cap.windowMs)}`, 'frame rate, subscriber / publisher', (r) => fps(r.cap.fps, r.cap.publisherFps)],
  ['', 'longest gap', (r) => ms(r.cap.maxGapMs)],
  ['', 'width shown as the cap began (publisher\'s widest then)', (r) => `${r.cap.top} (${r.cap.publisherWidth})`],
  ['', 'first frame of lower resolution', lower],
  [`**... cap lifted**, the ${secs(oriel.cap.lifted.windowMs)} after`, 'back to the width shown before the cap', back],
  ['', 'last gap over 300 ms ended', (r) => stallEnd(r.cap.lifted.stalls, r.cap.lifted.recoveredMs)],
  ['', 'frame rate, subscriber / publisher', (r) => fps(r.cap.lifted.fps, r.cap.lifted.publisherFps)],
  ['', 'longest gap', (r) => ms(r.cap.lifted.maxGapMs)],
  ['', 'freezes, cap and after (count, total)', (r) => freezes(r.cap.scenario)],
  [`**2 s of 30 % loss both ways**, the ${secs(oriel.burst.windowMs)} from its start`, 'frame rate, subscriber / publisher', (r) => fps(r.burst.fps, r.burst.publisherFps)],
  ['', 'longest gap', (r) => ms(r.burst.maxGapMs)],
  ['', 'last gap over 300 ms ended, after the burst', (r) => stallEnd(r.burst.stalls, r.burst.recoveredMsAfterBurst)],
  ['', 'freezes (count, total)', (r) => freezes(r.burst)],
];

const o = machine.other;
const otherCpu = !o
  ? ''
  : `; meanwhile the rest of the machine used ${o.other_percent} % of a CPU${o.top.length ? ` (${o.top.join(', ')})` : ''}` +
    ` and kernel threads ${o.kernel_percent} %${o.other_percent > 25 ? ' (⚠ not a quiet machine: rerun)' : ''}`;
const cam = oriel.camera ? `${oriel.camera.w}x${oriel.camera.h} at ${oriel.camera.fps} fps` : '?';
const section = `<!-- quality:begin (bench/quality.sh) -->
## Quality on bad networks, against Janus

Written by \`bench/quality.sh\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC: Oriel at commit ${f.commit}
(binary built ${f.oriel_built}), Janus ${f.janus_version} (Debian). Machine: ${machine.cpu}, ${machine.cpus} CPUs; the
run took ${machine.seconds} s${otherCpu}.
One run, one call per server, one after the other: the same Chromium publishes (fake camera,
${cam}) and subscribes, both through the impairment relay (\`oriel-impair\`
on 127.0.0.2, which each server advertises as its address; the browser may not send UDP to the
servers directly, and every selected pair led to 127.0.0.2). Oriel: the unmodified
\`@mux/spaces-web\` 1.2.0, three simulcast layers (${oriel.layers.join(', ')}). Janus VideoRoom:
a plain \`RTCPeerConnection\`, **one VP8 stream without simulcast** (${janus.layers.join(', ')}).
Frame rate: frames the subscriber's page presented (\`requestVideoFrameCallback\`) per second, against
the frames the publisher's browser encoded per second (its busiest layer) over the same time;
gaps are between presented frames; freezes are Chromium's own count (\`freezeCount\`,
\`totalFreezesDuration\`). Times under the cap count from the moment the relay applied it or
lifted it.

| scenario | figure | Oriel | Janus ${f.janus_version.replace(/-.*/, '')} |
|---|---|---|---|
${rows.map(([scenario, what, get]) => `| ${scenario} | ${what} | ${get(oriel)} | ${get(janus)} |`).join('\n')}

<!-- quality:reading -->
(No reading of these figures written yet.)
<!-- quality:reading:end -->

<details><summary>Raw figures (JSON)</summary>

\`\`\`json
${JSON.stringify(f)}
\`\`\`
</details>
<!-- quality:end -->`;

let text = fs.existsSync(results) ? fs.readFileSync(results, 'utf8') : '';
const marked = /<!-- quality:begin[\s\S]*?<!-- quality:end -->/;
// The first version of this section had no markers: from its heading to the next section or the end.
const unmarked = /^## Quality on bad networks, against Janus[^\n]*\n[\s\S]*?(?=^<!-- |^## |(?![\s\S]))/m;
if (marked.test(text)) text = text.replace(marked, section);
else if (unmarked.test(text)) text = text.replace(unmarked, `${section}\n`);
else text = `${text.trimEnd()}\n\n${section}\n`;
fs.writeFileSync(results, `${text.trimEnd()}\n`);
