import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { request } from '../../../agent/diagnostics/client.js';
import type { StatusReport } from '../../../agent/diagnostics/handlers/status.js';
import type { WireRecord } from '../../../agent/core/wire.js';
import type { IotHubEmulator } from '../../../cloud/iothub/index.js';
import { finished, spawnCli, untilOutput, type CliRun } from '../../support/cli.js';
import { recordsOf, startHub } from '../../support/hub.js';
import { untilStatus as followStatus } from '../../support/status.js';
import { tempDir } from '../../support/tmp.js';

/** The real `edge-agent run` process, as systemd starts it, with a kill timer so no test can hang on it. */
export interface FieldRun {
  child: ChildProcessWithoutNullStreams;
  output: () => string;
  /** Resolves once the agent's log shows `pattern` (after what was already seen, too). */
  untilLog: (pattern: RegExp) => Promise<void>;
  status: () => Promise<StatusReport>;
  socketPath: string;
  /** SIGTERM, then what the final "stopped" line says. */
  stop: () => Promise<CliRun & { stopped: { readings: number; outbox: number; nextSeq: number } }>;
}

export interface FieldConfig {
  connectionString: string;
  caFile: string;
  dataDir: string;
  socketPath: string;
  points?: number;
  intervalMs?: number;
  extra?: Record<string, unknown>;
}

export function writeFieldConfig(path: string, c: FieldConfig): void {
  writeFileSync(
    path,
    JSON.stringify({
      hub: { connectionString: c.connectionString, caFile: c.caFile },
      dataDir: c.dataDir,
      forwarding: { lingerMs: 20, retryInitialMs: 50, retryMaxMs: 200, maxMessageBytes: 16 * 1024, maxInFlight: 4 },
      connection: { reconnectInitialMs: 50, reconnectMaxMs: 200 },
      drivers: [{ type: 'synthetic', name: 'sim', source: 'line-1', intervalMs: c.intervalMs ?? 5, points: Array.from({ length: c.points ?? 20 }, (_, i) => ({ name: `p${i}`, unit: 'C' })) }],
      diagnostics: { socketPath: c.socketPath },
      ...c.extra,
    }),
  );
}

/** A hub with one device and a folder holding the agent's CA file, socket and config. */
export interface FieldSite {
  hub: IotHubEmulator;
  dataDir: string;
  configPath: string;
  socketPath: string;
  /** Starts the real agent on this site's config. */
  run: () => Promise<FieldRun>;
}

/**
 * Lays out a site for `deviceId`: the emulator, the device, the CA file, the config (data dir
 * `dataDir`, or `data/` in the site's folder). `cleanups` gets what undoes it, the agent included.
 */
export async function fieldSite(deviceId: string, cleanups: Array<() => Promise<void> | void>, shape: { points: number; intervalMs: number; dataDir?: string }): Promise<FieldSite> {
  const { hub, close } = await startHub();
  cleanups.push(close);
  const dev = await hub.registerDevice(deviceId);
  const dir = tempDir('field');
  cleanups.push(dir.cleanup);
  const caFile = join(dir.path, 'ca.pem');
  writeFileSync(caFile, hub.caPem);
  const socketPath = join(dir.path, 'diag.sock');
  const dataDir = shape.dataDir ?? join(dir.path, 'data');
  const configPath = join(dir.path, 'config.json');
  writeFieldConfig(configPath, { connectionString: dev.connectionString, caFile, dataDir, socketPath, points: shape.points, intervalMs: shape.intervalMs });
  return {
    hub,
    dataDir,
    configPath,
    socketPath,
    run: async () => {
      const r = await runField(configPath, socketPath);
      cleanups.push(async () => void (await r.stop().catch(() => undefined)));
      return r;
    },
  };
}

/** Starts `edge-agent run --config path` and resolves once its diagnostics socket listens. */
export async function runField(configPath: string, socketPath: string, killAfterMs = 240_000): Promise<FieldRun> {
  const child = spawnCli(['run', '--config', configPath, '--flush-timeout', '3000']);
  const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  killer.unref();
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = finished(child).finally(() => clearTimeout(killer));
  await untilOutput(child.stdout, /diagnostics listening/).catch(async () => {
    const r = await exited;
    throw new Error(`agent exited early (${r.code}): ${err}${out.slice(-3000)}`);
  });
  let stopping: ReturnType<FieldRun['stop']> | undefined;
  return {
    child,
    output: () => out,
    untilLog: (pattern) =>
      pattern.test(out)
        ? Promise.resolve()
        : Promise.race([untilOutput(child.stdout, pattern).then(() => undefined), exited.then(() => Promise.reject(new Error(`agent exited before ${pattern}: ${err}`)))]),
    status: async () => (await request(socketPath, 'status')) as StatusReport,
    socketPath,
    stop: () => {
      stopping ??= (async () => {
        child.kill('SIGTERM');
        const r = await exited;
        const m = /"readings":(\d+),"outbox":(\d+),"nextSeq":(\d+),"msg":"stopped"/.exec(out);
        if (!m) throw new Error(`no "stopped" line (exit ${r.code} ${r.signal}): ${err}${out.slice(-3000)}`);
        return { ...r, stdout: out, stderr: err, stopped: { readings: Number(m[1]), outbox: Number(m[2]), nextSeq: Number(m[3]) } };
      })();
      return stopping;
    },
  };
}

/** Waits on the running agent's status stream until `predicate` holds (see test/support/status.ts). */
export function untilStatus(run: FieldRun, predicate: (s: StatusReport) => boolean, deadlineMs = 60_000, what = 'status condition'): Promise<StatusReport> {
  return followStatus(run.socketPath, predicate, deadlineMs, what);
}

/** Fills the filesystem at `dir` until it is full; returns the filler's path. */
export function fillDisk(dir: string): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  return path;
}

/** What the hub holds for a device, by seq: each seq's distinct record texts (more than one = a reused seq). */
export async function hubLedger(hub: IotHubEmulator, deviceId: string): Promise<{ records: WireRecord[]; bySeq: Map<number, Set<string>>; copies: number }> {
  const records = await recordsOf(hub, deviceId);
  const bySeq = new Map<number, Set<string>>();
  for (const r of records) {
    const texts = bySeq.get(r.seq) ?? new Set<string>();
    texts.add(JSON.stringify(r));
    bySeq.set(r.seq, texts);
  }
  return { records, bySeq, copies: records.length - bySeq.size };
}

/** Seqs of `ranges`, expanded. */
export function seqsOf(ranges: Array<{ fromSeq: number; toSeq: number }>): number[] {
  return ranges.flatMap((r) => Array.from({ length: r.toSeq - r.fromSeq + 1 }, (_, i) => r.fromSeq + i));
}
