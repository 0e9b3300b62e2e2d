// bench/quality/report.mjs CPU FIGURES_JSON: the Markdown section bench/quality.sh appends to
// bench/RESULTS.md, Oriel and Janus side by side.

const [cpu, json] = process.argv.slice(2);
const { oriel, janus } = JSON.parse(json);
const fps = (x) => `${x.toFixed(1)} fps`;
const ms = (x) => (x === null || x === undefined ? 'never' : `${Math.round(x)} ms`);
const row = (what, f) => `| ${what} | ${f(oriel)} | ${f(janus)} |`;

console.log(`
## Quality on bad networks, against Janus (bench/quality.sh, ${new Date().toISOString().slice(0, 10)})

${cpu}, 2 CPUs. One call per server, the same Chromium publishing (fake camera, 1280x720 at
20 fps) and subscribing, through the impairment relay (oriel-impair) on 127.0.0.2. Oriel: the
unmodified Mux SDK, three simulcast layers. Janus 1.1.2 VideoRoom: plain RTCPeerConnection, one
VP8 stream (Janus adapts a publisher only through REMB). Gaps are between presented frames
(requestVideoFrameCallback); freezes are Chromium's own count.

| | Oriel | Janus 1.1.2 |
|---|---|---|
${row('5 % loss, 40 ± 20 ms jitter, 30 s: frame rate', (r) => fps(r.loss.fps))}
${row('... longest gap', (r) => ms(r.loss.maxGapMs))}
${row('... freezes (count, seconds)', (r) => `${r.loss.freezes}, ${r.loss.freezeSeconds} s`)}
${row('400 kbit/s downlink, 10 s: frame rate', (r) => fps(r.cap.cappedFps))}
${row('... longest gap', (r) => ms(r.cap.cappedMaxGapMs))}
${row('... first lower-resolution frame', (r) => ms(r.cap.lowerAtMs))}
${row('... back to full resolution after the cap lifts', (r) => ms(r.cap.backToTopMs))}
${row('2 s of 30 % loss: longest gap', (r) => ms(r.burst.maxGapMs))}
${row('... recovered after the burst ended', (r) => ms(r.burst.recoveredMsAfterBurst))}
`);
