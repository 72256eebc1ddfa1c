// One phase of the plant benchmark: the built `edge-agent run`, as systemd starts it, against
// the emulator; CPU and memory from /proc, the agent's own figures over its diagnostics socket.
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IotHubEmulator } from '../../../cloud/iothub/index.js';
import { request } from '../../../agent/diagnostics/client.js';
import type { StatusReport } from '../../../agent/diagnostics/handlers/status.js';
import { tempDir } from '../../../test/support/tmp.js';
import { plantConfig, type PlantPhase, type PlantShape } from './plant-config.js';
import { cpuSeconds, median, memoryMb, slope } from './proc-sampler.js';
import { unitEnvironment } from './unit-env.js';

export interface PhaseFigures {
  /** CPU time over wall time while measured, % of one core. */
  cpuPct: number;
  /** Of it, the main thread's: JavaScript and the V8 collector (the rest is LevelDB's threads and libuv's pool). */
  mainThreadCpuPct: number;
  rssMedianMb: number;
  /** The kernel's high-water mark over the whole run, start-up included. */
  rssPeakMb: number;
  readings: number;
  unitsPer1000: number;
  /** Records acknowledged by the hub per 1,000 readings accepted. */
  recordsPer1000: number;
  /** Readings the deadband kept back per 1,000 accepted. */
  suppressedPer1000: number;
  unsentStart: number;
  unsentEnd: number;
  /** Least-squares trend of unsent records over the measured span, sampled every 5 s. */
  unsentPerMin: number;
  /**
   * The same trend from samples taken 9 s into each 10 s of the clock, when the results of the
   * windows that ended on the last boundary have had their time to go: 5 s samples land on
   * bursts of 40,000 results at 5,000 points and swing the plain trend by thousands a minute.
   */
  unsentSettledPerMin: number;
  journalBacklogEnd: number;
  /** Age of the oldest unsent record, the most seen at any status sample, seconds: an agent that falls behind lets it grow. */
  oldestUnsentMaxS: number;
  /** Readings accepted over readings the drivers offered (points × seconds): below 1, the agent held them back. */
  acceptedShare: number;
  /** Bytes the agent wrote to the storage device / handed to write(), per accepted reading, since start. */
  deviceBytesPerReading: number | null;
  writeCallBytesPerReading: number | null;
  /** Stored size of one outbox record (checksum + JSON), over the records held at the end. */
  storedBytesPerRecord: number | null;
}

export interface PhaseOptions {
  root: string;
  hub: IotHubEmulator;
  shape: PlantShape;
  phase: PlantPhase;
  warmupS: number;
  measureS: number;
  /** Writes a V8 CPU profile of the child into this directory. */
  cpuProfDir?: string;
  /** Confines the agent to these CPUs (`taskset -c`, e.g. "1": one core, as on a small gateway). */
  cpus?: string;
  /** More node flags and environment for the child (e.g. a module-load log). */
  nodeArgs?: string[];
  env?: Record<string, string>;
  log: (line: string) => void;
}

const SAMPLE_MS = 1000;
const STATUS_EVERY = 5;

export async function runPhase(o: PhaseOptions): Promise<PhaseFigures> {
  const dir = tempDir('bench-plant');
  const deviceId = `plant-${Math.random().toString(36).slice(2, 8)}`;
  const dev = await o.hub.registerDevice(deviceId);
  const caFile = join(dir.path, 'hub-ca.pem');
  writeFileSync(caFile, o.hub.caPem);
  mkdirSync(join(dir.path, 'run'));
  const socketPath = join(dir.path, 'run', 'diagnostics.sock');
  const configPath = join(dir.path, 'config.json');
  writeFileSync(configPath, JSON.stringify(plantConfig({ shape: o.shape, phase: o.phase, connectionString: dev.connectionString, caFile, dataDir: join(dir.path, 'data'), socketPath })));
  const prof = o.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`] : [];
  const args = [...prof, ...(o.nodeArgs ?? []), 'dist/agent/cli/main.js', 'run', '--config', configPath, '--flush-timeout', '2000'];
  // taskset execs node in its own place: the child's pid is the agent's.
  const [command, argv] = o.cpus !== undefined ? ['taskset', ['-c', o.cpus, process.execPath, ...args]] : [process.execPath, args];
  const child = spawn(command, argv, {
    cwd: o.root,
    env: { ...process.env, ...unitEnvironment(o.root), ...o.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  // Passed through, and the end kept: an agent that dies (V8 out of heap) says why on stderr.
  let stderrTail = '';
  child.stderr.on('data', (d: Buffer) => {
    process.stderr.write(d);
    stderrTail = (stderrTail + d.toString()).slice(-4000);
  });
  const started = performance.now();
  const died = exited.then((code) => {
    const why = /FATAL ERROR: [^\n]*/.exec(stderrTail)?.[0] ?? stderrTail.trim().split('\n').at(-1) ?? '';
    throw new AgentDied(Math.round((performance.now() - started) / 1000), code, why);
  });
  died.catch(() => undefined);
  try {
    await untilLogged(child.stdout, 'diagnostics listening', exited);
    const pid = child.pid!;
    // A dying agent cuts the socket before its exit is seen: the exit, if it comes, is the answer.
    const ask = () =>
      (request(socketPath, 'status', {}, { timeoutMs: 10_000 }) as Promise<StatusReport>).catch(async (err: unknown) => {
        await Promise.race([died, delay(5000)]);
        throw err;
      });
    const status = () => Promise.race([died, ask()]);
    await Promise.race([died, delay(o.warmupS * 1000)]);

    const cpu0 = cpuSeconds(pid);
    const main0 = cpuSeconds(pid, pid);
    const t0 = performance.now();
    const s0 = await status();
    const rss: number[] = [];
    const trace: string[] = [];
    const unsent: Array<[number, number]> = [[0, s0.buffer.unsentRecords]];
    const settled: Array<[number, number]> = [];
    let oldest = s0.buffer.oldestUnsentAgeMs ?? 0;
    for (let i = 1; i * SAMPLE_MS <= o.measureS * 1000; i++) {
      await Promise.race([died, delay(t0 + i * SAMPLE_MS - performance.now())]);
      const m = memoryMb(pid);
      rss.push(m.rss);
      if (i % STATUS_EVERY === 0) trace.push(`${m.rss.toFixed(0)}(${m.anon.toFixed(0)}+${m.file.toFixed(0)})`);
      const at = (performance.now() - t0) / 60_000;
      const settling = Math.floor(Date.now() / 1000) % 10 === 9;
      if (i % STATUS_EVERY !== 0 && !settling) continue;
      const b = (await status()).buffer;
      const n = b.unsentRecords;
      oldest = Math.max(oldest, b.oldestUnsentAgeMs ?? 0);
      if (i % STATUS_EVERY === 0) unsent.push([at, n]);
      if (settling) settled.push([at, n]);
    }
    const s1 = await status();
    const cpu1 = cpuSeconds(pid);
    const main1 = cpuSeconds(pid, pid);
    const wallS = (performance.now() - t0) / 1000;
    const readings = s1.readings - s0.readings;
    const figures: PhaseFigures = {
      cpuPct: ((cpu1 - cpu0) / wallS) * 100,
      mainThreadCpuPct: ((main1 - main0) / wallS) * 100,
      rssMedianMb: median(rss),
      rssPeakMb: memoryMb(pid).hwm,
      readings,
      unitsPer1000: ((s1.forwarder.unitsBilled - s0.forwarder.unitsBilled) * 1000) / Math.max(1, readings),
      recordsPer1000: ((s1.forwarder.recordsAcked - s0.forwarder.recordsAcked) * 1000) / Math.max(1, readings),
      suppressedPer1000: (((s1.buffer.deadband?.suppressed ?? 0) - (s0.buffer.deadband?.suppressed ?? 0)) * 1000) / Math.max(1, readings),
      unsentStart: s0.buffer.unsentRecords,
      unsentEnd: s1.buffer.unsentRecords,
      unsentPerMin: slope(unsent),
      unsentSettledPerMin: slope(settled),
      journalBacklogEnd: s1.buffer.journalBacklog,
      oldestUnsentMaxS: Math.max(oldest, s1.buffer.oldestUnsentAgeMs ?? 0) / 1000,
      acceptedShare: readings / (o.shape.drivers * o.shape.pointsPerDriver * wallS),
      deviceBytesPerReading: s1.buffer.written?.deviceBytesPerReading ?? null,
      writeCallBytesPerReading: s1.buffer.written?.writeCallsPerReading ?? null,
      storedBytesPerRecord: storedPerRecord(s1.buffer),
    };
    o.log(`${o.phase.name}: ${JSON.stringify(figures)}`);
    o.log(`${o.phase.name}: RSS MB every ${(STATUS_EVERY * SAMPLE_MS) / 1000} s, (anonymous + file-backed): ${trace.join(' ')}`);
    return figures;
  } finally {
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(killer);
    dir.cleanup();
  }
}

function storedPerRecord(b: StatusReport['buffer']): number | null {
  const records = b.unsentRecords + b.retained.records;
  const bytes = Object.values(b.unsent).reduce((n, f) => n + f.bytes, 0) + b.retained.bytes;
  return records > 0 ? Math.round(bytes / records) : null;
}

/** The agent exited while it was being measured. */
export class AgentDied extends Error {
  constructor(
    readonly afterS: number,
    readonly code: number | null,
    readonly why: string,
  ) {
    super(`edge-agent run exited (${code}) ${afterS} s after start: ${why}`);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}

function untilLogged(out: NodeJS.ReadableStream, msg: string, exited: Promise<number | null>): Promise<void> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (d: Buffer) => {
      text = (text + d.toString()).slice(-100_000);
      if (!text.includes(`"msg":"${msg}"`)) return;
      // Keep reading (and dropping) the log so the child never blocks on a full pipe.
      out.off('data', onData);
      const keep = process.env.EDGE_BENCH_PLANT_STDOUT;
      out.on('data', keep ? (more: Buffer) => appendFileSync(keep, more) : () => undefined);
      resolve();
    };
    out.on('data', onData);
    void exited.then((code) => reject(new Error(`edge-agent run exited (${code}) before '${msg}': ${text.slice(-2000)}`)));
  });
}
