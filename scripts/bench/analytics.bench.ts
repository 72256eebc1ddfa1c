// Analytics engine throughput beside plain-loop baselines computing the same aggregates in the same run.
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AnalyticsEngine, compileQuery, replayLines, type AnalyticsEvent } from '../../agent/analytics/index.js';
import type { BenchRow, BenchSuite } from './harness.js';
import { engineHeap } from './support/engine-heap.js';

const BASE = Date.UTC(2026, 0, 1);
const SENSORS = 100;
const DEVICES = 10;
const TICK_MS = 100;

interface Ev extends AnalyticsEvent {
  source: string;
  point: string;
  value: number;
  appTime: number;
}

/** 100 sensors on 10 devices, polled every 100 ms; a device's points share the poll's time. */
function makeEvents(n: number, gapEvery = 0, gapMs = 0): Ev[] {
  const points = Array.from({ length: SENSORS }, (_, i) => `s${i}`);
  const sources = Array.from({ length: DEVICES }, (_, i) => `plc${i}`);
  const out: Ev[] = [];
  let t = BASE;
  for (let i = 0; out.length < n; i++) {
    if (gapEvery > 0 && i > 0 && i % gapEvery === 0) t += gapMs;
    for (let s = 0; s < SENSORS && out.length < n; s++) {
      out.push({ source: sources[s % DEVICES]!, point: points[s]!, value: ((i * 7 + s * 13) % 1000) / 10, appTime: t, arrivalTime: t + 20 });
    }
    t += TICK_MS;
  }
  return out;
}

function engineRun(query: string, events: Ev[]): number {
  let rows = 0;
  const engine = new AnalyticsEngine({ queries: [compileQuery(query, 'bench')], onResult: () => rows++ });
  for (let i = 0; i < events.length; i++) engine.push(events[i]!);
  engine.flush();
  return rows;
}

interface Acc {
  n: number;
  sum: number;
  min: number;
  max: number;
}

/** Tumbling AVG/MIN/MAX per sensor, by hand: one Map of accumulators per open window. */
function tumblingBaseline(events: Ev[], size: number): number {
  let rows = 0;
  let windowEnd = -Infinity;
  let groups = new Map<string, Acc>();
  const flush = () => {
    for (const a of groups.values()) if (a.sum / a.n > -1 && a.min <= a.max) rows++;
    groups = new Map();
  };
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const end = Math.ceil(e.appTime / size) * size;
    if (end !== windowEnd) {
      flush();
      windowEnd = end;
    }
    let a = groups.get(e.point);
    if (a === undefined) {
      a = { n: 0, sum: 0, min: Infinity, max: -Infinity };
      groups.set(e.point, a);
    }
    a.n++;
    a.sum += e.value;
    if (e.value < a.min) a.min = e.value;
    if (e.value > a.max) a.max = e.value;
  }
  flush();
  return rows;
}

/** Hopping AVG per sensor, by hand: each event updates every window that contains it. */
function hoppingBaseline(events: Ev[], size: number, hop: number): number {
  let rows = 0;
  const open = new Map<number, Map<string, Acc>>();
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const first = Math.ceil(e.appTime / hop) * hop;
    for (let end = first; end < e.appTime + size; end += hop) {
      let w = open.get(end);
      if (w === undefined) {
        w = new Map();
        open.set(end, w);
      }
      let a = w.get(e.point);
      if (a === undefined) {
        a = { n: 0, sum: 0, min: Infinity, max: -Infinity };
        w.set(e.point, a);
      }
      a.n++;
      a.sum += e.value;
    }
    for (const [end, w] of open) {
      if (end >= e.appTime) break;
      for (const a of w.values()) if (a.sum / a.n > -1) rows++;
      open.delete(end);
    }
  }
  for (const w of open.values()) for (const a of w.values()) if (a.sum / a.n > -1) rows++;
  return rows;
}

/** Sessions per sensor, by hand: extend while the gap is within the timeout. */
function sessionBaseline(events: Ev[], timeout: number): number {
  let rows = 0;
  const open = new Map<string, { last: number; n: number; sum: number }>();
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const s = open.get(e.point);
    if (s !== undefined && e.appTime <= s.last + timeout) {
      s.last = e.appTime;
      s.n++;
      s.sum += e.value;
    } else {
      if (s !== undefined) rows++;
      open.set(e.point, { last: e.appTime, n: 1, sum: e.value });
    }
  }
  return rows + open.size;
}

/** LAG per sensor by hand: the previous value of the same point within 10 s. */
function lagBaseline(events: Ev[], durationMs: number): number {
  let rows = 0;
  const last = new Map<string, { t: number; v: number }>();
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const p = last.get(e.point);
    const delta = p !== undefined && p.t >= e.appTime - durationMs ? e.value - p.v : null;
    if (delta === null || delta > -1e9) rows++;
    if (p === undefined) last.set(e.point, { t: e.appTime, v: e.value });
    else {
      p.t = e.appTime;
      p.v = e.value;
    }
  }
  return rows;
}

interface JoinEv extends AnalyticsEvent {
  input: 'cmd' | 'ack';
  id: number;
  appTime: number;
}

/** A command stream and its acknowledgements, each ack 0.5–9.5 s after its command, in arrival order. */
function makeJoinEvents(n: number): JoinEv[] {
  const out: JoinEv[] = [];
  for (let i = 0; out.length < n; i++) {
    const t = BASE + i * 10;
    out.push({ input: 'cmd', id: i, appTime: t, arrivalTime: t });
    const ackT = t + 500 + ((i * 7919) % 9000);
    out.push({ input: 'ack', id: i, appTime: ackT, arrivalTime: ackT });
  }
  return out.slice(0, n).sort((a, b) => a.arrivalTime - b.arrivalTime || a.id - b.id);
}

/** The same JOIN by hand: pending commands by id, matched by their ack, expired after 10 s. */
function joinBaseline(events: JoinEv[], boundMs: number): number {
  let rows = 0;
  const pending = new Map<number, number>();
  let swept = -Infinity;
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if (e.input === 'cmd') pending.set(e.id, e.appTime);
    else {
      const t = pending.get(e.id);
      if (t !== undefined && e.appTime - t >= 0 && e.appTime - t <= boundMs) rows++;
    }
    if (e.appTime - swept > 1000) {
      swept = e.appTime;
      for (const [id, t] of pending) if (t < e.appTime - boundMs) pending.delete(id);
    }
  }
  return rows;
}

/** SpikeAndDip per sensor by hand: a ring of the last 120 values, the kernel-density two-sided p-value. */
function spikeBaseline(events: Ev[], history: number, confidence: number): number {
  let anomalies = 0;
  const rings = new Map<string, number[]>();
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    let h = rings.get(e.point);
    if (h === undefined) {
      h = [];
      rings.set(e.point, h);
    }
    const n = h.length;
    if (n >= 2) {
      let mean = 0;
      for (let k = 0; k < n; k++) mean += h[k]!;
      mean /= n;
      let v = 0;
      for (let k = 0; k < n; k++) v += (h[k]! - mean) ** 2;
      const bw = 1.06 * Math.sqrt(v / (n - 1)) * Math.pow(n, -0.2);
      let upper = 0;
      for (let k = 0; k < n; k++) upper += phi((h[k]! - e.value) / bw);
      upper /= n;
      const p = Math.min(1, 2 * Math.min(upper, 1 - upper));
      if (n >= history && p < 1 - confidence) anomalies++;
    }
    h.push(e.value);
    if (h.length > history) h.shift();
  }
  return anomalies;
}

function phi(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + y) : 0.5 * (1 - y);
}

function rate(fn: () => number, n: number, minMs: number): { perSec: number; rows: number } {
  let rows = fn(); // warm-up, and the row count to compare
  let calls = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < minMs || calls < 2) {
    rows = fn();
    calls++;
    elapsed = performance.now() - start;
  }
  return { perSec: (calls * n * 1000) / elapsed, rows };
}

const TUMBLING = `SELECT point, AVG(value) AS avg, MIN(value) AS min, MAX(value) AS max, System.Timestamp() AS t
FROM input TIMESTAMP BY appTime GROUP BY point, TumblingWindow(second, 10)`;
const HOPPING = `SELECT point, AVG(value) AS avg FROM input TIMESTAMP BY appTime GROUP BY point, HoppingWindow(second, 10, 1)`;
const SESSION = `SELECT point, COUNT(*) AS n, AVG(value) AS avg FROM input TIMESTAMP BY appTime
GROUP BY point, SessionWindow(second, 5, 600) OVER (PARTITION BY point)`;

const LAG = `SELECT point, value - LAG(value) OVER (PARTITION BY point LIMIT DURATION(second, 10)) AS delta FROM input TIMESTAMP BY appTime`;
const JOIN = `SELECT c.id AS id, DATEDIFF(millisecond, c, a) AS ms FROM cmd c TIMESTAMP BY appTime JOIN ack a TIMESTAMP BY appTime
ON c.id = a.id AND DATEDIFF(second, c, a) BETWEEN 0 AND 10`;
const SPIKE = `SELECT point, AnomalyDetection_SpikeAndDip(value, 95, 120, 'spikesanddips') OVER (PARTITION BY point LIMIT DURATION(minute, 2)).IsAnomaly AS a
FROM input TIMESTAMP BY appTime`;

/** Rows whose IsAnomaly is 1, to set beside the baseline's anomaly count. */
function engineAnomalies(query: string, events: Ev[]): number {
  let n = 0;
  const engine = new AnalyticsEngine({ queries: [compileQuery(query, 'bench')], onResult: (r) => (n += r.row.a === 1 ? 1 : 0) });
  for (let i = 0; i < events.length; i++) engine.push(events[i]!);
  engine.flush();
  return n;
}

/** `BENCH_ANALYTICS=lag,join,spike,heap` runs only those rows (all by default). */
const only = (process.env.BENCH_ANALYTICS ?? '').split(',').filter((x) => x !== '');
const want = (row: string) => only.length === 0 || only.includes(row);

export const suite: BenchSuite = {
  name: 'analytics',
  async run(log) {
    const rows: BenchRow[] = [];
    const minMs = Number(process.env.BENCH_MIN_MS ?? 1500);
    const N = 400_000;

    if (want('heap')) {
      const h = engineHeap(5000, 70);
      rows.push({ name: '(g) live state: the plant\'s 10 tumbling/hopping queries × 5,000 points, after 70 s', value: h.stateMb, unit: 'MB', note: `${h.perGroupQueryBytes.toFixed(0)} B per group and query; heap used after a full GC` });
    }

    const tumbling = makeEvents(N);

    if (want('lag')) {
      const d = rate(() => engineRun(LAG, tumbling), N, minMs);
      const dBase = rate(() => lagBaseline(tumbling, 10_000), N, minMs);
      log(`lag: engine ${d.rows} rows, baseline ${dBase.rows} rows`);
      rows.push({ name: '(d) LAG per sensor, 100 partitions', value: d.perSec, unit: 'events/s', baseline: { name: 'plain loop, Map of last values', value: dBase.perSec }, note: `${d.rows} rows` });
    }
    if (want('join')) {
      const J = 200_000;
      const joinEvents = makeJoinEvents(J);
      const e = rate(() => engineRun(JOIN, joinEvents as unknown as Ev[]), J, minMs);
      const eBase = rate(() => joinBaseline(joinEvents, 10_000), J, minMs);
      log(`join: engine ${e.rows} rows, baseline ${eBase.rows} rows`);
      rows.push({ name: '(e) JOIN two streams by id, DATEDIFF bound 10 s', value: e.perSec, unit: 'events/s', baseline: { name: 'plain loop, Map of pending ids', value: eBase.perSec }, note: `${e.rows} pairs` });
    }
    if (want('spike')) {
      const S = 100_000;
      const spikes = makeEvents(S);
      const f = rate(() => engineAnomalies(SPIKE, spikes), S, minMs);
      const fBase = rate(() => spikeBaseline(spikes, 120, 0.95), S, minMs);
      log(`spike: engine ${f.rows} anomalies, baseline ${fBase.rows} anomalies`);
      rows.push({ name: '(f) AnomalyDetection_SpikeAndDip, history 120, 100 sensors', value: f.perSec, unit: 'events/s', baseline: { name: 'plain loop, same kernel density', value: fBase.perSec }, note: `${f.rows} anomalies` });
    }
    if (only.length > 0) return rows;

    const a = rate(() => engineRun(TUMBLING, tumbling), N, minMs);
    const aBase = rate(() => tumblingBaseline(tumbling, 10_000), N, minMs);
    log(`tumbling: engine ${a.rows} rows, baseline ${aBase.rows} rows`);
    rows.push({ name: '(a) tumbling 10 s AVG/MIN/MAX × 100 sensors', value: a.perSec, unit: 'events/s', baseline: { name: 'plain loop', value: aBase.perSec }, note: `target ≥ 1,000,000; ${a.rows} rows` });

    const b = rate(() => engineRun(HOPPING, tumbling), N, minMs);
    const bBase = rate(() => hoppingBaseline(tumbling, 10_000, 1000), N, minMs);
    log(`hopping: engine ${b.rows} rows, baseline ${bBase.rows} rows`);
    rows.push({ name: '(b) hopping 10 s / 1 s (10 overlapping) AVG × 100 sensors', value: b.perSec, unit: 'events/s', baseline: { name: 'plain loop, 10 updates/event', value: bBase.perSec }, note: `${b.rows} rows` });

    const bursts = makeEvents(N, 50, 30_000);
    const c = rate(() => engineRun(SESSION, bursts), N, minMs);
    const cBase = rate(() => sessionBaseline(bursts, 5000), N, minMs);
    log(`session: engine ${c.rows} rows, baseline ${cBase.rows} rows`);
    rows.push({ name: '(c) session 5 s timeout per sensor, COUNT/AVG', value: c.perSec, unit: 'events/s', baseline: { name: 'plain loop', value: cBase.perSec }, note: `${c.rows} rows` });

    const dir = mkdtempSync(path.join(os.tmpdir(), 'edge-bench-replay-'));
    try {
      const file = path.join(dir, 'events.jsonl');
      const R = 500_000;
      const lines = makeEvents(R).map((e) => JSON.stringify({ ts: new Date(e.appTime).toISOString(), source: e.source, point: e.point, value: e.value }));
      writeFileSync(file, lines.join('\n') + '\n');
      const plan = compileQuery(TUMBLING.replace('TIMESTAMP BY appTime', 'TIMESTAMP BY ts'), 'replay');
      let best = 0;
      let outRows = 0;
      for (let i = 0; i < 3; i++) {
        const start = performance.now();
        const summary = await replayLines(plan, createReadStream(file, { highWaterMark: 256 * 1024 }), { write: () => undefined });
        outRows = summary.rows;
        best = Math.max(best, (summary.events * 1000) / (performance.now() - start));
      }
      rows.push({ name: 'replay JSONL file (500k lines, tumbling query)', value: best, unit: 'events/s', note: `target ≥ 300,000; best of 3; ${outRows} rows` });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return rows;
  },
};
