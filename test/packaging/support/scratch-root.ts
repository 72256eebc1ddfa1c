import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileLimited, type FileRun } from '../../support/child.js';

/**
 * A root directory that real dpkg installs into without chroot (`--root` with
 * `--force-script-chrootless`): dpkg runs the package's maintainer scripts on this machine with
 * DPKG_ROOT set to the root, and they put everything under it (the user and group too, by
 * `systemd-sysusers --root`). Nothing outside the directory is touched.
 */
export interface ScratchRoot {
  path: string;
  /** `dpkg --root … <args>`, with the fake systemctl first on PATH. */
  dpkg: (args: string[]) => Promise<FileRun>;
  /** Every call the maintainer scripts made to systemctl, in order, one line each. */
  systemctlCalls: () => string[];
  /** The pid the fake systemd "runs" as edge-agent.service; try-restart and stop signal it. */
  setServicePid: (pid: number) => void;
}

/**
 * The fake systemctl is a named mock for what a container cannot provide: a systemd as PID 1 to
 * restart the service. It records each call; for `try-restart`/`stop` of edge-agent.service it
 * records the executable the service process runs (/proc/PID/exe: the old binary, deleted by the
 * unpack, if the process survived it) and sends that process SIGTERM, as systemd's stop does.
 * The test starts the new process itself (the start half of systemd's restart).
 */
const FAKE_SYSTEMCTL = `#!/bin/sh
echo "systemctl $*" >> "$FAKE_SYSTEMD_DIR/calls"
case "$*" in
  "try-restart edge-agent.service" | "stop edge-agent.service")
    if [ -s "$FAKE_SYSTEMD_DIR/service.pid" ]; then
      pid=$(cat "$FAKE_SYSTEMD_DIR/service.pid")
      echo "exe $(readlink "/proc/$pid/exe")" >> "$FAKE_SYSTEMD_DIR/calls"
      kill -TERM "$pid"
      : > "$FAKE_SYSTEMD_DIR/service.pid"
    fi ;;
esac
exit 0
`;

export function scratchRoot(dir: string): ScratchRoot {
  const root = join(dir, 'root');
  const fake = join(dir, 'fake-systemd');
  for (const d of ['var/lib/dpkg/info', 'var/lib/dpkg/updates', 'etc', 'usr/sbin']) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, 'var/lib/dpkg/status'), '');
  // A Debian system's base accounts (base-passwd): root, and dialout for serial ports.
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\ndialout:x:20:\n');
  // What sd_booted() looks for: the maintainer scripts take this root to be run by a systemd.
  mkdirSync(join(root, 'run/systemd/system'), { recursive: true });
  mkdirSync(fake, { recursive: true });
  writeFileSync(join(fake, 'systemctl'), FAKE_SYSTEMCTL);
  chmodSync(join(fake, 'systemctl'), 0o755);
  const calls = join(fake, 'calls');
  return {
    path: root,
    dpkg: (args) =>
      execFileLimited('dpkg', [`--root=${root}`, '--force-script-chrootless', ...args], {
        // Non-interactive: a conffile question would hang until the limit and fail the test.
        env: { ...process.env, PATH: `${fake}:${process.env.PATH ?? '/usr/bin:/bin'}`, FAKE_SYSTEMD_DIR: fake, DEBIAN_FRONTEND: 'noninteractive' },
        timeout: 60_000,
      }),
    systemctlCalls: () => (existsSync(calls) ? readFileSync(calls, 'utf8').trimEnd().split('\n') : []),
    setServicePid: (pid) => writeFileSync(join(fake, 'service.pid'), String(pid)),
  };
}
