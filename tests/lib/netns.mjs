// A private network namespace for tests that cut paths with a firewall, and Chromium run so
// that those rules can tell its traffic from the server's.
//
//   const ns = createNetns('oriel-turn');      // `ip netns add`, lo up; ns.remove() in finally
//   ns.exec(['node', ...])                     // argv that runs inside the namespace
//   ns.iptables(['-A', 'OUTPUT', ...])         // a rule inside the namespace only
//
// Inside the namespace everything still uses 127.0.0.1, and its iptables are its own: the
// host's firewall is never touched. `chromiumWrapper()` writes an executable that starts
// Chromium as the unprivileged uid BROWSER_UID, so `-m owner --uid-owner BROWSER_UID` rules
// apply to the browser alone (the server, its TURN relay included, runs as root).
//
// Requires root, iproute2 and iptables (installed when missing).

import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const BROWSER_UID = 65534; // nobody

export function ensureTools() {
  const missing = ['iptables', 'iproute2'].filter((pkg) => {
    try {
      execFileSync('dpkg', ['-s', pkg], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length) {
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  }
}

export function createNetns(prefix) {
  const name = `${prefix}-${process.pid}-${crypto.randomBytes(2).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', name]);
  try {
    execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  } catch (e) {
    execFileSync('ip', ['netns', 'delete', name]);
    throw e;
  }
  return {
    name,
    exec: (argv) => ['ip', 'netns', 'exec', name, ...argv],
    iptables: (rule) => execFileSync('ip', ['netns', 'exec', name, 'iptables', ...rule]),
    remove: () => {
      try {
        execFileSync('ip', ['netns', 'delete', name]);
      } catch {
        /* already gone */
      }
    },
  };
}

/** An executable that runs /usr/bin/chromium (or E2E_CHROMIUM) as BROWSER_UID. */
export function chromiumWrapper(chromium = '/usr/bin/chromium') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oriel-netns-chromium-'));
  fs.chmodSync(dir, 0o755);
  const home = path.join(dir, 'home');
  fs.mkdirSync(home);
  fs.chownSync(home, BROWSER_UID, BROWSER_UID);
  const wrapper = path.join(dir, 'chromium');
  // playwright makes the profile directory (as root, 0700): hand it to the browser's uid.
  fs.writeFileSync(
    wrapper,
    `#!/bin/sh
for arg in "$@"; do
  case "$arg" in --user-data-dir=*) chown -R ${BROWSER_UID}:${BROWSER_UID} "\${arg#--user-data-dir=}" ;; esac
done
export HOME=${home}
exec setpriv --reuid=${BROWSER_UID} --regid=${BROWSER_UID} --clear-groups ${chromium} "$@"
`,
  );
  fs.chmodSync(wrapper, 0o755);
  return { path: wrapper, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
