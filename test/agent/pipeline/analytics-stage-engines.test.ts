import { describe, expect, it } from 'vitest';
import { AnalyticsEngine, compileQuery, eventFromReading, toResultRecord } from '../../../agent/analytics/index.js';
import { silentLogger } from '../../../agent/core/logger.js';
import type { JournalEntry } from '../../../agent/journal/journal.js';
import { AnalyticsStage } from '../../../agent/pipeline/analytics-stage.js';
import { encodeChecked } from '../../../agent/store/checksum.js';
import { stamped } from '../../support/readings.js';

const T0 = Date.UTC(2026, 0, 1);
const QUERIES = [
  { name: 'tumble', query: 'SELECT point, COUNT(*) AS n, AVG(value) AS avg FROM readings TIMESTAMP BY appTime GROUP BY point, TumblingWindow(second, 4)' },
  { name: 'hop', query: 'SELECT point, MAX(value) AS max FROM readings TIMESTAMP BY appTime GROUP BY point, HoppingWindow(second, 6, 2)' },
  { name: 'slide', query: 'SELECT point, MIN(value) AS min FROM readings TIMESTAMP BY appTime GROUP BY point, SlidingWindow(second, 3) HAVING COUNT(*) > 2' },
];
const TOLERANCES = { lateArrivalMs: 3000, outOfOrderMs: 1000, policy: 'adjust' as const };
const entries: JournalEntry[] = Array.from({ length: 400 }, (_, i) => {
  const appTime = T0 + i * 100 - (i % 7 === 0 ? 900 : 0);
  return { position: i + 1, reading: stamped(i, { point: `p${i % 3}`, value: (i * 31) % 50, appTime, receivedAt: appTime, arrivalTime: T0 + i * 100 + 30 }) };
});
const stage = () => new AnalyticsStage({ queries: QUERIES, tolerances: TOLERANCES, maxStateEntries: 100_000, forwardReadings: false, logger: silentLogger });
const oneEngine = () => new AnalyticsEngine({ queries: QUERIES.map((q) => compileQuery(q.query, q.name)), tolerances: TOLERANCES, maxStateEntries: 100_000 });

describe('AnalyticsStage: one engine per query', () => {
  it('emits the rows one engine for all queries emits, in the same order', () => {
    const s = stage();
    const engine = oneEngine();
    const fromStage: unknown[] = [];
    const fromEngine: unknown[] = [];
    for (let i = 0; i < entries.length; i += 25) {
      const batch = entries.slice(i, i + 25);
      const now = batch.at(-1)!.reading.arrivalTime;
      fromStage.push(...s.process(batch, now).drafts);
      for (const e of batch) engine.push(eventFromReading(e.reading));
      engine.advance(now);
      fromEngine.push(...engine.drain().map(toResultRecord));
    }
    expect(new Set((fromStage as Array<{ query: string }>).map((r) => r.query))).toEqual(new Set(['tumble', 'hop', 'slide']));
    expect(fromStage).toEqual(fromEngine);
    expect(s.counters()).toEqual(engine.counters());
  });

  it('restores the single checkpoint of all queries that stages before it wrote', () => {
    const engine = oneEngine();
    for (const e of entries.slice(0, 200)) engine.push(eventFromReading(e.reading));
    engine.advance(entries[199]!.reading.arrivalTime);
    engine.drain();
    // What the store held then: the checkpoint text JSON-encoded again, as a string.
    const stored = JSON.parse(encodeChecked(JSON.stringify(engine.checkpoint())).subarray(4).toString('utf8')) as string;
    const s = stage();
    s.restore(stored);
    expect(s.counters()).toEqual(engine.counters());
    const rest = entries.slice(200);
    const now = rest.at(-1)!.reading.arrivalTime + 10_000;
    const drafts = s.process(rest, now).drafts;
    for (const e of rest) engine.push(eventFromReading(e.reading));
    engine.advance(now);
    expect(drafts).toEqual(engine.drain().map(toResultRecord));
  });

  it('round-trips its own checkpoint, line per query, and starts a query the checkpoint lacks empty', () => {
    const s = stage();
    s.process(entries.slice(0, 150), entries[149]!.reading.arrivalTime);
    const text = Buffer.concat([...s.checkpoint()]).toString('utf8');
    expect(text.split('\n')).toHaveLength(3);
    const again = stage();
    again.restore(text);
    expect(again.counters()).toEqual(s.counters());
    const lacking = stage();
    lacking.restore(text.split('\n').slice(0, 2).join('\n'));
    expect(lacking.counters().slide!.inputEvents).toBe(0);
    expect(lacking.counters().tumble!.inputEvents).toBe(150);
  });
});
