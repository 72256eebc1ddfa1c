// The real `edge-agent run` under plant load: synthetic lines at 1 Hz, hub up, gzip on, each
// query set beside pass-through measured in the same run.
//   EDGE_BENCH_PLANT_S        measured seconds per phase (default 60; 180 for the keep-up check)
//   EDGE_BENCH_PLANT_LARGE=1  5,000 points (10 drivers × 500) instead of 500 (5 × 100)
//   EDGE_BENCH_PLANT_PHASES   comma-separated phase numbers to run (0 = pass-through, always run;
//                             3-6 = the bill: drifting signals, every reading vs deadband
//                             (4: linger 10 s; 5: the forwarding defaults; 6: linger 1 s for
//                             every message, the default before the thin linger), 20 s warm-up
//                             and 300 s measured each, whatever the two above; run only when
//                             named: EDGE_BENCH_PLANT_PHASES=3,4,5,6)
//   EDGE_BENCH_PLANT_PROF=dir a V8 CPU profile of each agent into dir (node --cpu-prof)
//   EDGE_BENCH_PLANT_NODE_OPTIONS  replaces the unit's NODE_OPTIONS (e.g. to find what heap a load needs)
//   EDGE_BENCH_PLANT_NODE_ARGS     more node flags, space-separated, for flags NODE_OPTIONS refuses (--trace-gc)
//   EDGE_BENCH_PLANT_STDOUT=file   appends each agent's stdout (its log, and what those flags print)
//   EDGE_BENCH_PLANT_LOG_LEVEL     the agents' log level (default info; debug logs each checkpoint)
//   EDGE_BENCH_PLANT_RETENTION_MS  storage.retentionMs (0: no copy of acknowledged records is kept)
//   EDGE_BENCH_PLANT_WRITE_BUFFER_MB  storage.writeBufferBytes in MiB (LevelDB's memtable; default 2)
//   EDGE_BENCH_PLANT_CPUS=1        runs each agent under `taskset -c 1`: one core, as a small gateway has
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IotHubEmulator } from '../../cloud/iothub/index.js';
import { tempDir } from '../../test/support/tmp.js';
import type { BenchRow, BenchSuite } from './harness.js';
import { PHASES, type PlantShape } from './support/plant-config.js';
import { AgentDied, runPhase, type PhaseFigures } from './support/plant-run.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MEASURE_S = Number(process.env.EDGE_BENCH_PLANT_S ?? 60);
const WARMUP_S = Number(process.env.EDGE_BENCH_PLANT_WARMUP_S ?? 10);
const SHAPE: PlantShape = process.env.EDGE_BENCH_PLANT_LARGE === '1' ? { drivers: 10, pointsPerDriver: 500 } : { drivers: 5, pointsPerDriver: 100 };
const PICKED = process.env.EDGE_BENCH_PLANT_PHASES?.split(',').map(Number);
const NODE_OPTIONS = process.env.EDGE_BENCH_PLANT_NODE_OPTIONS;
const CPUS = process.env.EDGE_BENCH_PLANT_CPUS;
const NODE_ARGS = process.env.EDGE_BENCH_PLANT_NODE_ARGS?.split(' ').filter(Boolean);
const PROF_DIR = process.env.EDGE_BENCH_PLANT_PROF ? resolve(process.env.EDGE_BENCH_PLANT_PROF) : undefined;

export const suite: BenchSuite = {
  name: 'plant',
  async run(log) {
    log('building dist/ (the agent runs as a gateway runs it)');
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
    if (PROF_DIR) mkdirSync(PROF_DIR, { recursive: true });
    const points = SHAPE.drivers * SHAPE.pointsPerDriver;
    const hubDir = tempDir('bench-plant-hub');
    const hub = await IotHubEmulator.start({ dataDir: hubDir.path });
    const rows: BenchRow[] = [];
    try {
      let base: PhaseFigures | undefined;
      for (const [i, phase] of PHASES.entries()) {
        if (i > 0 && PICKED && !PICKED.includes(i)) continue;
        // The bill's 5-minute phases run when asked for by number only: they would quadruple a default run.
        if (phase.measureS !== undefined && !PICKED?.includes(i)) continue;
        const warmupS = phase.warmupS ?? WARMUP_S;
        const measureS = phase.measureS ?? MEASURE_S;
        const lingers = phase.lingerMs === undefined && phase.thinLingerMs === undefined ? 'default lingers' : `lingerMs ${phase.lingerMs ?? 'default'}, thinLingerMs ${phase.thinLingerMs ?? 'default'}`;
        log(`${phase.name}: ${points} points at 1 Hz, ${warmupS} s warm-up, ${measureS} s measured, ${lingers}`);
        let f: PhaseFigures;
        try {
          f = await runPhase({ root: ROOT, hub, shape: SHAPE, phase, warmupS, measureS, log, ...(PROF_DIR ? { cpuProfDir: PROF_DIR } : {}), ...(NODE_ARGS ? { nodeArgs: NODE_ARGS } : {}), ...(CPUS ? { cpus: CPUS } : {}), ...(NODE_OPTIONS !== undefined ? { env: { NODE_OPTIONS } } : {}) });
        } catch (err) {
          if (!(err instanceof AgentDied)) throw err;
          log(`${phase.name}: ${err.message}`);
          rows.push({ name: `${phase.name}, ${points} points/s: the agent died`, value: err.afterS, unit: 's after start', note: err.why.slice(0, 80) });
          continue;
        }
        base ??= f;
        const vs = (name: string, value: number) => (i === 0 ? {} : { baseline: { name: `pass-through ${name}`, value } });
        const label = `${phase.name}, ${points} points/s`;
        rows.push(
          { name: `${label}: CPU of one core`, value: f.cpuPct, unit: '%', ...vs('CPU', base.cpuPct), note: `${measureS} s, /proc/PID/stat` },
          { name: `${label}: of it, the main thread`, value: f.mainThreadCpuPct, unit: '%', ...vs('main thread', base.mainThreadCpuPct), note: 'JavaScript and GC; the rest is LevelDB and libuv threads' },
          { name: `${label}: RSS median`, value: f.rssMedianMb, unit: 'MB', ...vs('RSS median', base.rssMedianMb) },
          { name: `${label}: RSS peak (VmHWM)`, value: f.rssPeakMb, unit: 'MB', ...vs('RSS peak', base.rssPeakMb) },
          { name: `${label}: billed 4 KB units per 1,000 readings`, value: f.unitsPer1000, unit: 'units', note: phase.billNote ?? '' },
          ...(phase.signal === 'drift'
            ? [{ name: `${label}: records sent per 1,000 readings`, value: f.recordsPer1000, unit: 'records', note: `${f.suppressedPer1000.toFixed(0)} per 1,000 kept back by the deadband` }]
            : []),
          {
            name: `${label}: unsent records trend`,
            value: f.unsentPerMin,
            unit: 'records/min',
            note: `unsent ${f.unsentStart} → ${f.unsentEnd}, journal backlog ${f.journalBacklogEnd}`,
          },
          {
            name: `${label}: unsent trend, 9 s into each 10 s`,
            value: f.unsentSettledPerMin,
            unit: 'records/min',
            note: 'past the window ends\' bursts of results',
          },
          {
            name: `${label}: oldest unsent record, most seen`,
            value: f.oldestUnsentMaxS,
            unit: 's',
            note: 'status every 5 s and 9 s into each 10 s; flat when the agent keeps up',
          },
          {
            name: `${label}: readings accepted of those offered`,
            value: f.acceptedShare * 100,
            unit: '%',
            note: `points × seconds${CPUS ? `; agent on CPU ${CPUS} (taskset)` : ''}`,
          },
        );
        // Flash wear: what reached the device per reading, beside what one stored record takes.
        if (f.deviceBytesPerReading !== null && f.storedBytesPerRecord !== null) {
          rows.push({
            name: `${label}: bytes written to disk per reading`,
            value: f.deviceBytesPerReading,
            unit: 'B',
            baseline: { name: 'stored size of one record', value: f.storedBytesPerRecord },
            note: `/proc/PID/io write_bytes since start; ${f.writeCallBytesPerReading ?? '?'} B per reading handed to write()`,
          });
        }
      }
    } finally {
      await hub.stop();
      hubDir.cleanup();
    }
    return rows;
  },
};
