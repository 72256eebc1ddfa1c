// The plant benchmark's workloads: which drivers and which queries each phase runs.

/** Drivers × points per driver, every point read once a second. */
export interface PlantShape {
  drivers: number;
  pointsPerDriver: number;
}

export interface PlantPhase {
  name: string;
  queries: Array<{ name: string; query: string }>;
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

export const PHASES: PlantPhase[] = [
  { name: 'pass-through', queries: [] },
  { name: '10 tumbling/hopping queries', queries: TUMBLING_HOPPING },
  { name: 'mixed: 6 tumbling/hopping, 2 sliding (HAVING), 2 session', queries: [...TUMBLING_HOPPING.slice(0, 6), ...ORDER_SENSITIVE] },
];

/** The agent's config for one phase: synthetic drivers at 1 Hz, hub up, gzip on, results only. */
export function plantConfig(o: { shape: PlantShape; phase: PlantPhase; connectionString: string; caFile: string; dataDir: string; socketPath: string }): Record<string, unknown> {
  const drivers = Array.from({ length: o.shape.drivers }, (_, d) => ({
    type: 'synthetic',
    name: `line-${d}`,
    source: `plc-${d}`,
    intervalMs: 1000,
    points: Array.from({ length: o.shape.pointsPerDriver }, (_, p) => ({ name: `p${p}`, unit: 'C', periodMs: 20_000 + p * 1000 })),
  }));
  return {
    hub: { connectionString: o.connectionString, caFile: o.caFile },
    dataDir: o.dataDir,
    drivers,
    analytics: { queries: o.phase.queries, tolerances: { lateArrivalMs: 5000, outOfOrderMs: 1000, policy: 'adjust' }, forwardReadings: false },
    forwarding: { compress: true },
    diagnostics: { socketPath: o.socketPath },
    log: { level: 'info' },
  };
}
