import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { childLimit, LONG_MS } from '../../support/child.js';

/** An agent started from a packaged binary: its output so far, and its exit. */
export interface AgentProcess {
  pid: number;
  output: () => string;
  exited: Promise<number | null>;
  stop: () => void;
}

/** What a gateway's process sees: no NODE_PATH, no node_modules, no addon directory override. */
export function bareEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env.NODE_PATH;
  delete env.NODE_OPTIONS;
  delete env.EDGE_AGENT_NATIVE_DIR;
  return env;
}

/**
 * A config for `run` with nothing listening for its hub (the agent keeps retrying, which is not
 * unhealthy), so whatever a driver reads stays in the buffer.
 */
export function writeAgentConfig(file: string, dataDir: string, opts: { synthetic?: boolean } = {}): void {
  const drivers = opts.synthetic ? [{ type: 'synthetic', name: 'sine', source: 'plant', intervalMs: 50, points: [{ name: 'temp', unit: 'C' }] }] : [];
  const key = Buffer.alloc(32, 7).toString('base64');
  writeFileSync(file, JSON.stringify({ hub: { connectionString: `HostName=127.0.0.1;DeviceId=pkg;SharedAccessKey=${key}` }, dataDir, drivers, diagnostics: { enabled: true } }));
}

/**
 * Starts `cmd args` (an `edge-agent run …`, maybe under qemu) and resolves once its diagnostics
 * socket listens (its own log line says so), or rejects with its output if it exits first.
 */
export function startAgent(cmd: string, args: string[], cwd: string): Promise<AgentProcess> {
  const child = spawn(cmd, args, { cwd, env: bareEnv(), stdio: ['ignore', 'pipe', 'pipe'], ...childLimit(LONG_MS) });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes('"msg":"diagnostics listening"')) {
        child.stdout.off('data', onData);
        child.stderr.off('data', onData);
        child.stdout.on('data', (more: Buffer) => (out += more.toString()));
        child.stderr.on('data', (more: Buffer) => (out += more.toString()));
        resolve({ pid: child.pid!, output: () => out, exited, stop: () => child.kill('SIGTERM') });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((code) => reject(new Error(`${cmd} ${args.join(' ')} exited (${code}) before its diagnostics listened:\n${out}`)));
  });
}
