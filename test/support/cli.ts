import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { childLimit, LONG_MS } from './child.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts the real CLI as a user would, from the sources (through tsx). */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}, limitMs = LONG_MS): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ['--import', 'tsx', 'agent/cli/main.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
    ...childLimit(limitMs),
  });
}

/** Runs the CLI to completion and collects its output; killed (SIGKILL) after `limitMs`. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, limitMs = LONG_MS): Promise<CliRun> {
  return finished(spawnCli(args, env, limitMs));
}

export function finished(child: ChildProcessWithoutNullStreams): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Resolves with the stream's text so far once `pattern` appears in it. */
export function untilOutput(stream: NodeJS.ReadableStream, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (d: Buffer) => {
      text += d.toString();
      if (pattern.test(text)) {
        stream.off('data', onData);
        resolve(text);
      }
    };
    stream.on('data', onData);
    stream.once('end', () => reject(new Error(`stream ended before ${pattern}: ${text}`)));
  });
}
