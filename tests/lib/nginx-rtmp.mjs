// A private nginx with the RTMP module on 127.0.0.1 and a free port, for tests that push RTMP:
// it accepts any stream under `rtmp://127.0.0.1:PORT/live/KEY` and records each as
// `DIR/rec/KEY.flv` (`record all`), which ffprobe then reads. Started from a config in a temp
// dir (nginx -p DIR -c CONF, no daemon), stopped by PID.
//
//   const rtmp = await startNginxRtmp();
//   rtmp.url('key1')            // rtmp://127.0.0.1:PORT/live/key1
//   rtmp.recording('key1')      // DIR/rec/key1.flv
//   await rtmp.stop();

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freeTcpPort } from './oriel.mjs';

const MODULE = '/usr/lib/nginx/modules/ngx_rtmp_module.so';
const NGINX = '/usr/sbin/nginx';

function portOpen(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

export async function startNginxRtmp() {
  for (const file of [NGINX, MODULE]) {
    if (!fs.existsSync(file)) throw new Error(`${file} is missing: install nginx-core and libnginx-mod-rtmp (scripts/install-e2e-deps.sh does)`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oriel-nginx-rtmp-'));
  fs.mkdirSync(path.join(dir, 'rec'));
  fs.mkdirSync(path.join(dir, 'logs'));
  const port = await freeTcpPort();
  fs.writeFileSync(path.join(dir, 'nginx.conf'), `
load_module ${MODULE};
daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log info;
events { worker_connections 64; }
rtmp {
  server {
    listen 127.0.0.1:${port};
    application live {
      live on;
      record all;
      record_path ${dir}/rec;
      record_unique off;
    }
  }
}
`);
  const child = spawn(NGINX, ['-p', dir, '-c', path.join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const deadline = Date.now() + 10_000;
  while (!(await portOpen(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`nginx-rtmp did not start on 127.0.0.1:${port}: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    dir,
    url: (key) => `rtmp://127.0.0.1:${port}/live/${key}`,
    base: `rtmp://127.0.0.1:${port}/live`,
    recording: (key) => path.join(dir, 'rec', `${key}.flv`),
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGQUIT');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    },
    cleanup() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
