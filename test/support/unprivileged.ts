import { spawn, spawnSync } from 'node:child_process';
import { childLimit } from './child.js';
import { finished, ROOT, type CliRun } from './cli.js';

/** The capabilities that let root past file modes (capabilities(7)). */
const DROP = ['--bounding-set', '-dac_override,-dac_read_search', '--'];

export type Unprivileged =
  /** Start `[...prefix, node, …]`: file modes apply to that child. */
  | { ok: true; how: string; prefix: string[] }
  | { ok: false; reason: string };

/**
 * How to start a child to whom file modes apply, to show what a user without rights sees.
 * Not root: as it is. Root: still uid 0 but without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH
 * (setpriv drops them from the bounding set before exec). Switching to `nobody` instead fails
 * in a clone only root may read (any `mktemp -d`, root's home): nobody cannot load the sources,
 * while uid 0 still owns them.
 */
export function unprivileged(): Unprivileged {
  if (process.getuid?.() !== 0) return { ok: true, how: 'as this (non-root) user', prefix: [] };
  const probe = spawnSync('setpriv', [...DROP, process.execPath, '-e', ''], childLimit());
  if (probe.status === 0) return { ok: true, how: 'as root without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH (setpriv)', prefix: ['setpriv', ...DROP] };
  const why = probe.error ? probe.error.message : `exit ${String(probe.status)}: ${probe.stderr.toString().trim()}`;
  return { ok: false, reason: `root cannot drop CAP_DAC_OVERRIDE here (setpriv ${why})` };
}

/** Runs the CLI from the sources the way `how` says. */
export function runCliAs(how: Extract<Unprivileged, { ok: true }>, args: string[]): Promise<CliRun> {
  const [command, ...rest] = [...how.prefix, process.execPath, '--import', 'tsx', 'agent/cli/main.ts', ...args] as [string, ...string[]];
  return finished(spawn(command, rest, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], ...childLimit() }));
}
