import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../agent/core/clock.js';
import { Reconciler } from '../../../cloud/reconciler/reconciler.js';
import { MessageLogSource } from '../../../cloud/reconciler/sources/message-log-source.js';
import type { ReconcilerStore } from '../../../cloud/reconciler/store.js';
import { runCli } from '../../support/cli.js';
import { openTestLog } from './support/real-log.js';
import { postgresStores, sqliteStores } from './support/stores.js';
import { AgentScript, packMessage, toTelemetry } from './support/wire-builder.js';

// `edge-agent cloud results --view` for every view a store holds, on both stores: the same
// JSON from SQLite and PostgreSQL (numbers as numbers, GROUP BY keys as text, times as ISO text, booleans as
// booleans), a table row per view row, and --from/--to honoured rather than silently dropped.

const T0 = Date.UTC(2026, 11, 1, 8, 0);
const MIN = 60_000;

/** Three outputs of two queries: numeric and text keys, a time alias, a boolean, a snapshot window (no start). */
async function fill(store: ReconcilerStore): Promise<void> {
  const log = await openTestLog();
  try {
    const agent = new AgentScript('press-1', 'boot-1');
    const recs = [];
    for (let w = 0; w < 3; w++) {
      const ws = T0 + w * MIN;
      const we = ws + MIN;
      recs.push(agent.result({ query: 'summary', out: 'output', key: JSON.stringify(['plc', 'temp']), ws, we, rev: 0, row: { source: 'plc', point: 'temp', n: 3, avg: 20.5 + w } }));
      recs.push(agent.result({ query: 'alarms', out: 'hot', key: JSON.stringify(['line-a', 7]), ws, we, rev: 0, row: { at: we, line: 'line-a', over: w === 1 } }));
      recs.push(agent.result({ query: 'alarms', out: 'count', key: JSON.stringify([]), ws: null, we, rev: 0, row: { total: w } }));
    }
    for (const [i, r] of recs.entries()) await log.append(toTelemetry(packMessage('press-1', agent.boot, [r])), T0 + 10 * MIN + i);
    await new Reconciler({ source: new MessageLogSource(log.log), store, clock: new ManualClock(T0 + 20 * MIN) }).runOnce();
  } finally {
    await log.close();
  }
}

async function json(location: string, args: string[]): Promise<unknown> {
  const r = await runCli(['cloud', 'results', '--store', location, '--view', '--json', ...args]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as unknown;
}

describe('cloud results --view, every view, both stores', () => {
  const factories = [sqliteStores(), postgresStores()];
  afterAll(() => Promise.all(factories.map((f) => f.cleanup())));

  it('the same JSON from SQLite and PostgreSQL for each query output; a table row per view row; --from/--to filter on window end', async () => {
    const locations: string[] = [];
    const specs = [];
    for (const f of factories) {
      const store = await f.create();
      await store.migrate();
      await fill(store);
      specs.push((await store.viewSpecs!()).map((s) => `${s.query}/${s.out}`));
      locations.push(f.locationOf(store));
      await store.close();
    }
    expect(specs[0]).toEqual(['alarms/count', 'alarms/hot', 'summary/output']);
    expect(specs[1]).toEqual(specs[0]);
    for (const [query, out] of specs[0]!.map((s) => s.split('/') as [string, string])) {
      const [lite, pg] = await Promise.all(locations.map((l) => json(l, ['--query', query, '--out', out])));
      expect(pg, `${query}/${out}`).toEqual(lite);
      const rows = lite as Array<Record<string, unknown>>;
      expect(rows).toHaveLength(3);
      for (const r of rows) {
        expect(typeof r.window_end).toBe('string');
        expect(new Date(r.window_end as string).toISOString()).toBe(r.window_end);
        expect(typeof r.rev).toBe('number');
        expect(typeof r.seq).toBe('number');
        expect(typeof r.complete).toBe('boolean');
      }
      const text = await runCli(['cloud', 'results', '--store', locations[1]!, '--view', '--query', query, '--out', out]);
      expect(text.stdout.trim().split('\n')).toHaveLength(1 + rows.length);
    }
    const hot = (await json(locations[1]!, ['--query', 'alarms', '--out', 'hot'])) as Array<Record<string, unknown>>;
    expect(hot.map((r) => [r.key_1, r.key_2, r.at, r.over])).toEqual([0, 1, 2].map((w) => ['line-a', '7', new Date(T0 + (w + 1) * MIN).toISOString(), w === 1]));
    // Window ends T0+1m, +2m, +3m: --from/--to are inclusive bounds on window end.
    for (const l of locations) {
      const some = (await json(l, ['--query', 'summary', '--from', new Date(T0 + 2 * MIN).toISOString(), '--to', String(T0 + 2 * MIN)])) as Array<Record<string, unknown>>;
      expect(some.map((r) => r.avg)).toEqual([21.5]);
    }
  });
});
