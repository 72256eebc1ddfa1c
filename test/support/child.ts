import { execFile, type ExecFileOptions } from 'node:child_process';

/** A one-shot command (a CLI run, a compiler, a probe). */
export const QUICK_MS = 30_000;
/** A child that lives through a test or a whole file (an agent, a broker, a server). */
export const LONG_MS = 300_000;

/**
 * The limit every child process of the suite is started with (test/support/child-limits.test.ts
 * checks that none is started without one). SIGKILL, because a child that hangs may be stuck where
 * it cannot handle SIGTERM; a spawnSync without a limit would block the test worker, so vitest's
 * own timeout could never fire and the whole run would hang.
 */
export function childLimit(ms: number = QUICK_MS): { timeout: number; killSignal: NodeJS.Signals } {
  return { timeout: ms, killSignal: 'SIGKILL' };
}

export interface FileRun {
  stdout: string;
  stderr: string;
}

/**
 * `promisify(execFile)` with a limit: resolves with the output, or rejects with the error
 * carrying `stdout` and `stderr` as well.
 */
export function execFileLimited(file: string, args: string[], options: ExecFileOptions = {}): Promise<FileRun> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { ...childLimit(), ...options, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(Object.assign(err, { stdout, stderr }));
      else resolve({ stdout, stderr });
    });
  });
}
