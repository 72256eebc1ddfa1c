// The analytics engines' live heap under the plant's 10 tumbling/hopping queries: what a large
// gateway's V8 heap must hold beside the rest of the agent (the unit allows 96 MB).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { AnalyticsEngine, compileQuery, type AnalyticsEvent } from '../../../agent/analytics/index.js';
import { PHASES } from './plant-config.js';

export interface EngineHeap {
  groups: number;
  /** Live heap held by the engines, MB (heap used after a full GC, less the same before any event). */
  stateMb: number;
  /** Of it per group and query, bytes. */
  perGroupQueryBytes: number;
  queries: number;
}

/** `groups` points, each read once a second for `seconds` of event time, through one engine per query as the pipeline runs them. */
export function engineHeap(groups: number, seconds: number): EngineHeap {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const queries = PHASES[1]!.queries.map((q) => compileQuery(q.query, q.name));
  const full = () => {
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };
  const before = full();
  const engines = queries.map((q) => new AnalyticsEngine({ queries: [q], tolerances: { lateArrivalMs: 5000, outOfOrderMs: 1000, policy: 'adjust' }, onResult: () => undefined }));
  const base = Date.UTC(2026, 0, 1);
  const sources = Array.from({ length: 10 }, (_, d) => `line-${d}`);
  const points = Array.from({ length: groups }, (_, p) => `p${p}`);
  for (let s = 0; s < seconds; s++) {
    for (let p = 0; p < groups; p++) {
      const t = base + s * 1000 + (p % 1000);
      const ev = { source: sources[p % 10]!, point: points[p]!, value: Math.sin(p + s), appTime: t, arrivalTime: t + 5 } as AnalyticsEvent;
      for (const e of engines) e.push(ev);
    }
  }
  const stateBytes = full() - before;
  // `engines` is read after the measurement, so the collector above cannot have freed them.
  return { groups, queries: engines.length, stateMb: stateBytes / 1e6, perGroupQueryBytes: stateBytes / (groups * engines.length) };
}
