// bench/quality/other-cpu.mjs NETNS ROOT_PID MAX_SECONDS: what the rest of the machine used while
// bench/quality.sh ran. Samples /proc once a second (at most MAX_SECONDS times, or until SIGTERM)
// and adds up the CPU time of every process that is neither in the benchmark's
// network namespace NETNS (servers, relay, node, Chromium) nor ROOT_PID or its descendants (the
// script); kernel threads are counted apart (some of their time is the benchmark's own packet
// processing). Prints one JSON line: {seconds, other_percent, kernel_percent, top}, percentages
// of one CPU, `top` the busiest other commands.
//
// Only processes seen in two samples count, so something living under a second escapes it.

import fs from 'node:fs';

const [netns, rootPid, maxSeconds] = process.argv.slice(2);
const nsIno = fs.statSync(`/run/netns/${netns}`).ino;
const HZ = 100; // Linux USER_HZ
const start = Date.now();
const last = new Map(); // pid -> {ticks, comm}
const byComm = new Map();
let other = 0;
let kernel = 0;

function stat(pid) {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = text.lastIndexOf(')');
    const comm = text.slice(text.indexOf('(') + 1, close);
    const f = text.slice(close + 2).split(' ');
    return { comm, ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) };
  } catch {
    return null;
  }
}

function inNs(pid) {
  try {
    return fs.statSync(`/proc/${pid}/ns/net`).ino === nsIno;
  } catch {
    return false;
  }
}

function sample() {
  const now = new Map();
  const procs = new Map();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = stat(name);
    if (s) procs.set(Number(name), s);
  }
  const ours = (pid) => {
    for (let p = pid, i = 0; p > 1 && i < 64; i++) {
      if (p === Number(rootPid) || p === process.pid) return true;
      p = procs.get(p)?.ppid ?? 0;
    }
    return false;
  };
  for (const [pid, s] of procs) {
    if (ours(pid) || inNs(pid)) continue;
    const isKernel = pid === 2 || s.ppid === 2;
    now.set(pid, s);
    const before = last.get(pid);
    if (!before || before.comm !== s.comm) continue;
    const d = s.ticks - before.ticks;
    if (d <= 0) continue;
    if (isKernel) kernel += d;
    else {
      other += d;
      byComm.set(s.comm, (byComm.get(s.comm) ?? 0) + d);
    }
  }
  last.clear();
  for (const [pid, s] of now) last.set(pid, s);
}

let timer;
let n = 0;
function finish() {
  clearInterval(timer);
  sample();
  const secs = (Date.now() - start) / 1000;
  const pct = (t) => Math.round((100 * t) / HZ / Math.max(secs, 1));
  const top = [...byComm].sort((a, b) => b[1] - a[1]).slice(0, 5).filter(([, t]) => pct(t) >= 1).map(([c, t]) => `${c} ${pct(t)} %`);
  console.log(JSON.stringify({ seconds: Math.round(secs), other_percent: pct(other), kernel_percent: pct(kernel), top }));
  process.exit(0);
}
sample();
timer = setInterval(() => {
  sample();
  if (++n >= Number(maxSeconds)) finish();
}, 1000);
process.on('SIGTERM', finish);
