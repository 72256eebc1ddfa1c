import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { finished, spawnCli, untilOutput, type CliRun } from '../../support/cli.js';
import { startHub } from '../../support/hub.js';
import { tempDir } from '../../support/tmp.js';
import type { IotHubEmulator } from '../../../cloud/iothub/index.js';

export interface RunningCliAgent {
  child: ChildProcessWithoutNullStreams;
  hub: IotHubEmulator;
  deviceId: string;
  dir: string;
  configPath: string;
  socketPath: string;
  metricsPort: number | undefined;
  /** Every stdout line so far (the agent's JSON log). */
  output: () => string;
  /** SIGTERM, then the exit. */
  stop: () => Promise<CliRun>;
  cleanup: () => Promise<void>;
}

/** `edge-agent run` as systemd starts it, against the local IoT Hub emulator. */
export async function startCliAgent(o: { deviceId: string; config?: Record<string, unknown>; prometheusHost?: string; intervalMs?: number; points?: number; flushTimeoutMs?: number; env?: NodeJS.ProcessEnv; beforeStart?: (dataDir: string, hub: IotHubEmulator) => Promise<void>; whileStarting?: (child: ChildProcessWithoutNullStreams) => Promise<void> }): Promise<RunningCliAgent> {
  const { hub, close } = await startHub();
  const dev = await hub.registerDevice(o.deviceId);
  const dir = tempDir('diag');
  const caFile = join(dir.path, 'hub-ca.pem');
  writeFileSync(caFile, hub.caPem);
  const socketPath = join(dir.path, 'run', 'diagnostics.sock');
  const configPath = join(dir.path, 'config.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      hub: { connectionString: dev.connectionString, caFile },
      dataDir: join(dir.path, 'data'),
      forwarding: { lingerMs: 20, retryInitialMs: 50, retryMaxMs: 200 },
      drivers: [
        {
          type: 'synthetic',
          name: 'sim',
          source: 'boiler-1',
          intervalMs: o.intervalMs ?? 50,
          points: Array.from({ length: o.points ?? 2 }, (_, i) => ({ name: `t${i}`, unit: 'C' })),
        },
      ],
      diagnostics: { socketPath, prometheus: { port: 0, ...(o.prometheusHost ? { host: o.prometheusHost } : {}) } },
      ...o.config,
    }),
  );
  await o.beforeStart?.(join(dir.path, 'data'), hub);
  const child = spawnCli(['run', '--config', configPath, '--flush-timeout', String(o.flushTimeoutMs ?? 3000)], o.env);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = finished(child);
  const readyOrExit = Promise.race([untilOutput(child.stdout, o.config?.diagnostics ? /diagnostics listening/ : /Prometheus metrics on/), exited.then((r) => Promise.reject(new Error(`agent exited early (${r.code}): ${err}${out}`)))]);
  readyOrExit.catch(() => undefined); // awaited below, after whileStarting
  await o.whileStarting?.(child);
  const ready = await readyOrExit;
  const port = /"port":(\d+),"msg":"Prometheus metrics/.exec(ready)?.[1];
  let stopped: Promise<CliRun> | undefined;
  const stop = () => {
    if (!stopped) {
      child.kill('SIGTERM');
      stopped = exited.then((r) => ({ ...r, stdout: out, stderr: err }));
    }
    return stopped;
  };
  return {
    child,
    hub,
    deviceId: o.deviceId,
    dir: dir.path,
    configPath,
    socketPath,
    metricsPort: port ? Number(port) : undefined,
    output: () => out,
    stop,
    cleanup: async () => {
      if (child.exitCode === null && child.signalCode === null) await stop();
      await close();
      dir.cleanup();
    },
  };
}
