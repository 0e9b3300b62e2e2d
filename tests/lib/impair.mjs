// The impairment relay (crates/oriel-impair) from a test: clients send to LISTEN_IP:P, the
// relay impairs each direction and forwards to the node's NODE_IP:P. Start the node with
// `--public-ip LISTEN_IP` so that its candidates point at the relay. Changed while a call runs:
//
//   const relay = await startImpair({ ports: [40000, 40001] });
//   await relay.set({ up: { loss: 0.05 }, down: { delay_ms: 40, jitter_ms: 20 } });
//   await relay.set({ down: { rate_kbps: 400 } });   // each key replaces that direction
//   await relay.stats();                              // {up: {in, out}, down: {in, out}}
//   await relay.stop();
//
// The relay ends when its stdin closes, so it never outlives the test.

import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const IMPAIR_BIN = process.env.ORIEL_IMPAIR_BIN || path.join(REPO, 'target', 'release', 'oriel-impair');

export async function startImpair({ listenIp = '127.0.0.2', nodeIp = '127.0.0.1', ports, up, down } = {}) {
  const args = ['--listen-ip', listenIp, '--node-ip', nodeIp, '--ports', ports.join(',')];
  if (up) args.push('--up', JSON.stringify(up));
  if (down) args.push('--down', JSON.stringify(down));
  const child = spawn(IMPAIR_BIN, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout });
  const waiting = [];
  lines.on('line', (line) => waiting.shift()?.(JSON.parse(line)));
  const next = () =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('oriel-impair did not answer within 5 s')), 5000);
      waiting.push((value) => {
        clearTimeout(timer);
        resolve(value);
      });
    });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const ready = await Promise.race([next(), exited.then((code) => { throw new Error(`oriel-impair exited (${code})`); })]);
  if (ready.event !== 'ready') throw new Error(`oriel-impair: ${JSON.stringify(ready)}`);
  const ask = async (object) => {
    const answer = next();
    child.stdin.write(`${JSON.stringify(object)}\n`);
    const value = await answer;
    if (value.event === 'error') throw new Error(`oriel-impair refused ${JSON.stringify(object)}: ${value.message}`);
    return value;
  };
  return {
    listenIp,
    set: (change) => ask(change),
    stats: () => ask({ stats: true }),
    async stop() {
      child.stdin.end();
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}
