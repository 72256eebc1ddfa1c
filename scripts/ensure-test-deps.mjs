#!/usr/bin/env node
// `npm test` needs a few programs from outside npm. Install them when we can (root + apt-get);
// otherwise stop and name the exact command, never skip the tests that need them.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** apt can wait on a lock or a slow mirror; past this it has hung, and npm test should say so. */
const APT_TIMEOUT_MS = 15 * 60_000;

const needs = [
  { what: 'socat (pseudo-terminal pairs)', pkg: 'socat', present: () => onPath('socat') },
  { what: 'mbpoll (a Modbus master we did not write)', pkg: 'mbpoll', present: () => onPath('mbpoll') },
  { what: 'libmodbus headers (a Modbus slave we did not write)', pkg: 'libmodbus-dev', present: () => existsSync('/usr/include/modbus/modbus.h') },
  { what: 'PostgreSQL server (reconciler store tests)', pkg: 'postgresql', present: () => findPgBin('initdb') !== undefined },
  { what: 'systemd-analyze (unit verification)', pkg: 'systemd', present: () => onPath('systemd-analyze') },
  // The packaging test runs the arm64 single executable under user-mode qemu, rooted at Debian's arm64 cross libraries.
  { what: 'qemu-aarch64-static (runs the arm64 executable)', pkg: 'qemu-user-static', present: () => onPath('qemu-aarch64-static') },
  { what: 'arm64 glibc', pkg: 'libc6-arm64-cross', present: () => existsSync('/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1') },
  { what: 'arm64 libstdc++', pkg: 'libstdc++6-arm64-cross', present: () => existsSync('/usr/aarch64-linux-gnu/lib/libstdc++.so.6') },
  { what: 'arm64 libgcc_s', pkg: 'libgcc-s1-arm64-cross', present: () => existsSync('/usr/aarch64-linux-gnu/lib/libgcc_s.so.1') },
  // npm run package strips the arm64 node binary (the host's strip reads x86 only); the packaging
  // test checks both .debs with lintian (which brings dpkg-dev, man-db and binutils).
  { what: 'aarch64-linux-gnu-strip (npm run package)', pkg: 'binutils-aarch64-linux-gnu', present: () => onPath('aarch64-linux-gnu-strip') },
  { what: 'lintian (checks the .debs)', pkg: 'lintian', present: () => onPath('lintian') },
];

function onPath(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore', timeout: 10_000 }).status === 0;
}

function findPgBin(name) {
  for (const v of ['17', '16', '15', '14', '13']) {
    const p = `/usr/lib/postgresql/${v}/bin/${name}`;
    if (existsSync(p)) return p;
  }
  return undefined;
}

const missing = needs.filter((n) => !n.present());
if (missing.length === 0) process.exit(0);

const pkgs = missing.map((n) => n.pkg);
const command = `apt-get update && apt-get install -y ${pkgs.join(' ')}`;
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (isRoot && onPath('apt-get')) {
  console.error(`pretest: installing ${missing.map((n) => n.what).join(', ')}`);
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env, timeout: APT_TIMEOUT_MS });
    execFileSync('apt-get', ['install', '-y', '-qq', ...pkgs], { stdio: 'inherit', env, timeout: APT_TIMEOUT_MS });
  } catch {
    console.error(`pretest: the install failed. Run as root:\n  ${command}`);
    process.exit(1);
  }
  const still = needs.filter((n) => !n.present());
  if (still.length === 0) process.exit(0);
  console.error(`pretest: still missing after install: ${still.map((n) => n.pkg).join(' ')}`);
  process.exit(1);
}
console.error(
  `pretest: the tests need ${missing.map((n) => n.what).join(', ')}.\n` +
    `Install them, then run npm test again:\n  sudo ${command}`,
);
process.exit(1);
