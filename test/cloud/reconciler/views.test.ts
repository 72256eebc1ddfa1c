import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../agent/core/clock.js';
import { Reconciler } from '../../../cloud/reconciler/reconciler.js';
import { MessageLogSource } from '../../../cloud/reconciler/sources/message-log-source.js';
import { ViewCatalog, mergeSpec, viewName } from '../../../cloud/reconciler/views.js';
import { openTestLog } from './support/real-log.js';
import { allStores } from './support/stores.js';
import { AgentScript, packMessage, toTelemetry, type Telemetry } from './support/wire-builder.js';

// Per-query views over the real stores: a column per SELECT alias, times as times, GROUP BY
// values as columns, one row per window at its current revision, and `complete` only once the
// window is past its lateness and the device's seqs up to it have no open gap.

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 20, 8, 0);

/** Two devices' traffic: `press-1` complete, `press-2` with seq 3 missing (an open gap). */
function traffic(): Array<{ t: Telemetry; at: number }> {
  const out: Array<{ t: Telemetry; at: number }> = [];
  for (const device of ['press-1', 'press-2']) {
    const agent = new AgentScript(device, 'boot-1');
    const w1 = { ws: T0, we: T0 + MIN };
    const w2 = { ws: T0 + MIN, we: T0 + 2 * MIN };
    const r = [
      agent.result({ query: 'avg temp', out: 'hot', key: JSON.stringify(['line-a', 3]), ...w1, rev: 0, row: { windowEnd: w1.we, line: 'line-a', avgTemp: 20.5, alarm: false } }),
      agent.result({ query: 'avg temp', out: 'hot', key: JSON.stringify(['line-a', 3]), ...w1, rev: 1, row: { windowEnd: w1.we, line: 'line-a', avgTemp: 21.5, alarm: true } }),
      agent.result({ query: 'avg temp', out: 'hot', key: JSON.stringify(['line-a', 3]), ...w2, rev: 0, row: { windowEnd: w2.we, line: 'line-a', avgTemp: 22, alarm: false } }),
      agent.result({ query: 'avg temp', out: 'hot', key: JSON.stringify(['line-b', 4]), ...w2, rev: 0, row: { windowEnd: w2.we, line: 'line-b', avgTemp: 19, alarm: false } }),
    ];
    // press-2 loses the message with its seq 3 (the window-2 line-a row).
    const sent = device === 'press-2' ? [r[0]!, r[1]!, r[3]!] : r;
    sent.forEach((rec, i) => out.push({ t: toTelemetry(packMessage(device, agent.boot, [rec])), at: T0 + 5 * MIN + i * 1000 }));
  }
  return out;
}

for (const stores of allStores()) {
  describe(`per-query result views, ${stores.name}`, () => {
    afterAll(() => stores.cleanup());

    it('one column per alias, times as times, key columns, current revision, and a complete flag', async () => {
      const log = await openTestLog();
      for (const d of traffic()) await log.append(d.t, d.at);
      const store = await stores.create();
      await store.migrate();
      try {
        // Lateness: avg temp windows take corrections for 90 s after they end.
        const reconciler = new Reconciler({ source: new MessageLogSource(log.log), store, clock: new ManualClock(T0 + 10 * MIN), allowedLatenessMs: { 'avg temp': 90_000 } });
        await reconciler.runOnce();
        const view = await store.viewRows!('avg temp', 'hot');
        expect(view?.name).toBe('results_avg_temp_hot');
        expect(view!.columns).toEqual(['device', 'window_start', 'window_end', 'key_1', 'key_2', 'windowEnd', 'line', 'avgTemp', 'alarm', 'rev', 'seq', 'complete']);
        const iso = (ms: number) => (stores.name === 'postgres' ? new Date(ms) : new Date(ms).toISOString());
        const rows = view!.rows.map((r) => ({ ...r, key_2: Number(r.key_2), alarm: Boolean(r.alarm) }));
        expect(rows).toEqual([
          // Revision 1 only; complete: enqueued ≥ 3 min after the end ≥ 90 s lateness, no gap before seq 2.
          { device: 'press-1', window_start: iso(T0), window_end: iso(T0 + MIN), key_1: 'line-a', key_2: 3, windowEnd: iso(T0 + MIN), line: 'line-a', avgTemp: 21.5, alarm: true, rev: 1, seq: 2, complete: true },
          { device: 'press-1', window_start: iso(T0 + MIN), window_end: iso(T0 + 2 * MIN), key_1: 'line-a', key_2: 3, windowEnd: iso(T0 + 2 * MIN), line: 'line-a', avgTemp: 22, alarm: false, rev: 0, seq: 3, complete: true },
          { device: 'press-1', window_start: iso(T0 + MIN), window_end: iso(T0 + 2 * MIN), key_1: 'line-b', key_2: 4, windowEnd: iso(T0 + 2 * MIN), line: 'line-b', avgTemp: 19, alarm: false, rev: 0, seq: 4, complete: true },
          { device: 'press-2', window_start: iso(T0), window_end: iso(T0 + MIN), key_1: 'line-a', key_2: 3, windowEnd: iso(T0 + MIN), line: 'line-a', avgTemp: 21.5, alarm: true, rev: 1, seq: 2, complete: true },
          // Seq 3 never came: the row after the gap is not complete.
          { device: 'press-2', window_start: iso(T0 + MIN), window_end: iso(T0 + 2 * MIN), key_1: 'line-b', key_2: 4, windowEnd: iso(T0 + 2 * MIN), line: 'line-b', avgTemp: 19, alarm: false, rev: 0, seq: 4, complete: false },
        ]);
        // A longer lateness than the hub has seen: nothing is complete yet.
        await store.writeViews!(await store.viewSpecs!(), () => 10 * MIN);
        expect((await store.viewRows!('avg temp', 'hot'))!.rows.map((r) => r.complete)).toEqual([false, false, false, false, false]);
        expect(await store.viewRows!('no such query', 'hot')).toBeUndefined();
      } finally {
        await store.close();
        await log.close();
      }
    });
  });
}

describe('ViewCatalog', () => {
  const row = (rowFields: Record<string, unknown>, key = '["k"]') => ({ device: 'd', query: 'q', out: 'o', key, ws: 0, we: 60_000, rev: 0, seq: 1, row: rowFields, enqueuedTime: 0 });

  it('learns aliases and types from rows, and says when a view changed shape', () => {
    const c = new ViewCatalog();
    expect(c.observe([row({ ts: 60_000, v: 1.5 })])).toBe(true);
    expect(c.observe([row({ ts: 60_000, v: 2 })])).toBe(false);
    expect(c.specs()).toEqual([{ query: 'q', out: 'o', keyCount: 1, columns: [{ alias: 'ts', type: 'time' }, { alias: 'v', type: 'number' }] }]);
    // A value that is not the window bound: a number after all; mixed kinds fall back to text.
    expect(c.observe([row({ ts: 5, v: 'n/a', 'bad alias': 1 }, '["k", 2]')])).toBe(true);
    expect(c.specs()[0]).toEqual({ query: 'q', out: 'o', keyCount: 2, columns: [{ alias: 'ts', type: 'number' }, { alias: 'v', type: 'text' }] });
    // A restarted reconciler starts from the stored shapes.
    expect(new ViewCatalog(c.specs()).observe([row({ ts: 7, v: 'x' })])).toBe(false);
    expect(viewName('Avg Temp!', 'out-1')).toBe('results_avg_temp__out_1');
  });

  it('instances sharing a database widen a view together, never narrow it', () => {
    const a = { query: 'q', out: 'o', keyCount: 1, columns: [{ alias: 'x', type: 'number' as const }, { alias: 'y', type: 'time' as const }] };
    const b = { query: 'q', out: 'o', keyCount: 2, columns: [{ alias: 'x', type: 'text' as const }, { alias: 'y', type: 'number' as const }, { alias: 'z', type: 'boolean' as const }] };
    expect(mergeSpec(a, b)).toEqual({ query: 'q', out: 'o', keyCount: 2, columns: [{ alias: 'x', type: 'text' }, { alias: 'y', type: 'number' }, { alias: 'z', type: 'boolean' }] });
    expect(mergeSpec(undefined, b)).toEqual(b);
  });
});
