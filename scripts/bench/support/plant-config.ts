// The plant benchmark's workloads: which drivers and which queries each phase runs.

/** Drivers × points per driver, every point read once a second. */
export interface PlantShape {
  drivers: number;
  pointsPerDriver: number;
}

export interface PlantPhase {
  name: string;
  queries: Array<{ name: string; query: string }>;
  /** `drift`: plant-like values (slow random walk around a setpoint, small noise) instead of sines. */
  signal?: 'drift';
  /** The drivers' default deadband (report-by-exception on the forwarded readings). */
  deadband?: { absolute?: number; percent?: number; maxSilenceMs?: number };
  /** forwarding.lingerMs (default 1 s); unset here, the agent's default. */
  lingerMs?: number;
  /** forwarding.thinLingerMs (default 10 × lingerMs, at most 10 s unless lingerMs is longer): how long a message under one billed unit waits; unset here, the default. */
  thinLingerMs?: number;
  /** What the billed-units row measures. */
  billNote?: string;
  /** Seconds measured / warmed up, instead of the run's (the bill needs a whole heartbeat period in view). */
  measureS?: number;
  warmupS?: number;
}

const FROM = 'FROM readings TIMESTAMP BY appTime';
const BY = 'GROUP BY source, point';

/** Ten tumbling and hopping windows, each AVG/MIN/MAX/COUNT by source and point. */
const TUMBLING_HOPPING: PlantPhase['queries'] = [
  { name: 'avg10s', query: `SELECT source, point, AVG(value) AS avg ${FROM} ${BY}, TumblingWindow(second, 10)` },
  { name: 'min10s', query: `SELECT source, point, MIN(value) AS min ${FROM} ${BY}, TumblingWindow(second, 10)` },
  { name: 'max10s', query: `SELECT source, point, MAX(value) AS max ${FROM} ${BY}, TumblingWindow(second, 10)` },
  { name: 'count10s', query: `SELECT source, point, COUNT(*) AS n ${FROM} ${BY}, TumblingWindow(second, 10)` },
  { name: 'all1m', query: `SELECT source, point, AVG(value) AS avg, MIN(value) AS min, MAX(value) AS max, COUNT(*) AS n ${FROM} ${BY}, TumblingWindow(minute, 1)` },
  { name: 'avg5s', query: `SELECT source, point, AVG(value) AS avg ${FROM} ${BY}, TumblingWindow(second, 5)` },
  { name: 'hop30s', query: `SELECT source, point, AVG(value) AS avg, MAX(value) AS max ${FROM} ${BY}, HoppingWindow(second, 30, 10)` },
  { name: 'hop1m', query: `SELECT source, point, MIN(value) AS min, MAX(value) AS max ${FROM} ${BY}, HoppingWindow(second, 60, 10)` },
  { name: 'hop5m', query: `SELECT source, point, COUNT(*) AS n, AVG(value) AS avg ${FROM} ${BY}, HoppingWindow(minute, 5, 1)` },
  { name: 'hop20s', query: `SELECT source, point, AVG(value) AS avg, MIN(value) AS min ${FROM} ${BY}, HoppingWindow(second, 20, 5)` },
];

/** Order-sensitive windows: two sliding with HAVING, two sessions (a point never goes quiet, so max duration closes them). */
const ORDER_SENSITIVE: PlantPhase['queries'] = [
  { name: 'slideHigh', query: `SELECT source, point, AVG(value) AS avg ${FROM} ${BY}, SlidingWindow(second, 10) HAVING AVG(value) > 0.9` },
  { name: 'slideSpread', query: `SELECT source, point, MAX(value) - MIN(value) AS spread ${FROM} ${BY}, SlidingWindow(second, 5) HAVING MAX(value) - MIN(value) > 0.5` },
  { name: 'sessionPoint', query: `SELECT source, point, COUNT(*) AS n, AVG(value) AS avg ${FROM} ${BY}, SessionWindow(second, 5, 60) OVER (PARTITION BY point)` },
  { name: 'sessionSource', query: `SELECT source, COUNT(*) AS n, MAX(value) AS max ${FROM} GROUP BY source, SessionWindow(second, 5, 30)` },
];

const BILL_SPAN = { warmupS: 20, measureS: 300 };

/** 0.5 % of the last forwarded value, and a reading at least every 5 minutes per point. */
const BILL_DEADBAND = { percent: 0.5, maxSilenceMs: 300_000 };

export const PHASES: PlantPhase[] = [
  { name: 'pass-through', queries: [], billNote: 'readings forwarded, gzip' },
  { name: '10 tumbling/hopping queries', queries: TUMBLING_HOPPING, billNote: 'results only, gzip' },
  { name: 'mixed: 6 tumbling/hopping, 2 sliding (HAVING), 2 session', queries: [...TUMBLING_HOPPING.slice(0, 6), ...ORDER_SENSITIVE], billNote: 'results only, gzip' },
  // The bill: the same drifting signals forwarded whole, then by exception; linger 10 s in both
  // (a thin message's wait is then 10 s too, never less than lingerMs).
  // 5 minutes measured: every point's heartbeat (or a change) falls in the window, as in steady state.
  { name: 'bill: drifting signals, every reading', queries: [], signal: 'drift', lingerMs: 10_000, billNote: 'every reading forwarded, gzip, linger 10 s', ...BILL_SPAN },
  { name: 'bill: drifting signals, deadband 0.5 % + 5 min heartbeat', queries: [], signal: 'drift', deadband: BILL_DEADBAND, lingerMs: 10_000, billNote: 'deadband, gzip, linger 10 s', ...BILL_SPAN },
  // The forwarding defaults (no linger set): lingerMs 1 s, thin messages (under one unit) wait 10 s.
  { name: 'bill: drifting signals, deadband 0.5 % + 5 min heartbeat, default lingers', queries: [], signal: 'drift', deadband: BILL_DEADBAND, billNote: 'deadband, gzip, default lingers (1 s; 10 s under one unit)', ...BILL_SPAN },
  // What the default was before the thin linger: every message, thin or not, goes after 1 s.
  { name: 'bill: drifting signals, deadband 0.5 % + 5 min heartbeat, linger 1 s, no thin linger', queries: [], signal: 'drift', deadband: BILL_DEADBAND, lingerMs: 1000, thinLingerMs: 1000, billNote: 'deadband, gzip, linger 1 s for every message', ...BILL_SPAN },
];

/** A plant-like point: setpoints 20..(20 + n), walk and noise in proportion, 0.01 resolution (a register's scale). */
function driftPoint(p: number): Record<string, unknown> {
  const setpoint = 20 + p;
  return { name: `p${p}`, unit: 'C', signal: 'drift', setpoint, drift: 0.0003 * setpoint, reversion: 0.002, noise: 0.0005 * setpoint, resolution: 0.01 };
}

/** The agent's config for one phase: synthetic drivers at 1 Hz, hub up, gzip on, results only. */
export function plantConfig(o: { shape: PlantShape; phase: PlantPhase; connectionString: string; caFile: string; dataDir: string; socketPath: string }): Record<string, unknown> {
  const drivers = Array.from({ length: o.shape.drivers }, (_, d) => ({
    type: 'synthetic',
    name: `line-${d}`,
    source: `plc-${d}`,
    intervalMs: 1000,
    points: Array.from({ length: o.shape.pointsPerDriver }, (_, p) => (o.phase.signal === 'drift' ? driftPoint(p) : { name: `p${p}`, unit: 'C', periodMs: 20_000 + p * 1000 })),
    ...(o.phase.deadband ? { deadband: o.phase.deadband } : {}),
  }));
  return {
    hub: { connectionString: o.connectionString, caFile: o.caFile },
    dataDir: o.dataDir,
    drivers,
    analytics: { queries: o.phase.queries, tolerances: { lateArrivalMs: 5000, outOfOrderMs: 1000, policy: 'adjust' }, forwardReadings: false },
    forwarding: {
      compress: true,
      ...(o.phase.lingerMs !== undefined ? { lingerMs: o.phase.lingerMs } : {}),
      ...(o.phase.thinLingerMs !== undefined ? { thinLingerMs: o.phase.thinLingerMs } : {}),
    },
    diagnostics: { socketPath: o.socketPath },
    storage: {
      ...(process.env.EDGE_BENCH_PLANT_RETENTION_MS !== undefined ? { retentionMs: Number(process.env.EDGE_BENCH_PLANT_RETENTION_MS) } : {}),
      ...(process.env.EDGE_BENCH_PLANT_WRITE_BUFFER_MB !== undefined ? { writeBufferBytes: Number(process.env.EDGE_BENCH_PLANT_WRITE_BUFFER_MB) * 1024 * 1024 } : {}),
    },
    log: { level: process.env.EDGE_BENCH_PLANT_LOG_LEVEL ?? 'info' },
  };
}
