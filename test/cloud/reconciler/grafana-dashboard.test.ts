import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../agent/core/clock.js';
import { DEMO_QUERY } from '../../../agent/demo/demo.js';
import { Reconciler } from '../../../cloud/reconciler/reconciler.js';
import { reconcilerMetrics } from '../../../cloud/reconciler/metrics.js';
import { MessageLogSource } from '../../../cloud/reconciler/sources/message-log-source.js';
import { viewName } from '../../../cloud/reconciler/views.js';
import { ROOT } from '../../support/cli.js';
import { openTestLog } from './support/real-log.js';
import { postgresStores } from './support/stores.js';
import { AgentScript, packMessage, toTelemetry } from './support/wire-builder.js';

// config/grafana-demo-dashboard.json must not rot: its shape is a dashboard's, its data sources
// are the templated ones, every SQL runs against a real PostgreSQL holding the demo's view, and
// every metric it charts is one the reconciler serves.

interface Target {
  refId: string;
  datasource: { type: string; uid: string };
  rawSql?: string;
  format?: string;
  expr?: string;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource: { type: string; uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets: Target[];
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  templating: { list: Array<{ name: string; type: string; query: string; datasource?: { uid: string } }> };
  panels: Panel[];
}

const T0 = Date.UTC(2026, 11, 1, 8, 0);
const FIVE_S = 5000;

async function dashboard(): Promise<Dashboard> {
  return JSON.parse(await readFile(join(ROOT, 'config/grafana-demo-dashboard.json'), 'utf8')) as Dashboard;
}

/** What Grafana's PostgreSQL data source does to a query before sending it, for the macros this dashboard uses. */
function expand(sql: string, devices: string[], from: number, to: number): string {
  const out = sql
    .replace(/\$__timeFilter\((\w+)\)/g, (_m, col: string) => `${col} BETWEEN '${new Date(from).toISOString()}' AND '${new Date(to).toISOString()}'`)
    .replace(/\$device\b/g, devices.map((d) => `'${d}'`).join(','));
  // A macro or variable the test does not know would reach PostgreSQL unexpanded: say which.
  expect(out, 'unexpanded macro or variable').not.toMatch(/\$/);
  return out;
}

describe('the example Grafana dashboard (config/grafana-demo-dashboard.json)', () => {
  const stores = postgresStores();
  afterAll(() => stores.cleanup());

  it('is a dashboard: unique panel ids, a grid position, a target per panel, data sources named by templated uids', async () => {
    const d = await dashboard();
    expect(d.uid).toMatch(/^[\w-]{1,40}$/);
    expect(d.schemaVersion).toBeGreaterThan(30);
    const sources = new Map(d.templating.list.filter((v) => v.type === 'datasource').map((v) => [v.name, v.query]));
    expect([...sources.values()].sort()).toEqual(['grafana-postgresql-datasource', 'prometheus']);
    expect(new Set(d.panels.map((p) => p.id)).size).toBe(d.panels.length);
    const templated = (ds: { type: string; uid: string }) => {
      const name = /^\$\{(\w+)\}$/.exec(ds.uid)?.[1];
      expect(name, `uid ${ds.uid}`).toBeDefined();
      expect(sources.get(name!), `data source variable ${name}`).toBe(ds.type);
    };
    for (const p of d.panels) {
      expect(['timeseries', 'table', 'stat']).toContain(p.type);
      expect(p.gridPos.w).toBeGreaterThan(0);
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
      expect(p.targets.length, p.title).toBeGreaterThan(0);
      templated(p.datasource);
      for (const t of p.targets) {
        templated(t.datasource);
        expect(t.datasource).toEqual(p.datasource);
        if (t.datasource.type === 'prometheus') expect(t.expr, p.title).toMatch(/edge_reconciler_/);
        else expect(t.rawSql, p.title).toMatch(/\bFROM results_/);
      }
    }
    // One time series per demo query's view, one table of its incomplete windows, and the reconciler's metrics.
    const view = viewName(DEMO_QUERY.name, 'output');
    const sql = d.panels.filter((p) => p.datasource.type !== 'prometheus');
    expect(sql.some((p) => p.type === 'timeseries' && p.targets.some((t) => t.rawSql!.includes(view) && t.format === 'time_series'))).toBe(true);
    expect(sql.some((p) => p.type === 'table' && p.targets.some((t) => /NOT complete/.test(t.rawSql!)))).toBe(true);
    expect(d.panels.filter((p) => p.datasource.type === 'prometheus').length).toBeGreaterThanOrEqual(3);
  });

  it("every SQL runs on PostgreSQL against the demo query's view, and every metric charted is served", async () => {
    const d = await dashboard();
    // The rows below carry the demo query's aliases and GROUP BY: if the demo changes, so must they.
    for (const alias of ['n', 'avg', 'min', 'max']) expect(DEMO_QUERY.query).toMatch(new RegExp(`\\bAS ${alias}\\b`));
    expect(DEMO_QUERY.query).toMatch(/GROUP BY source, point,/);
    expect(DEMO_QUERY.query).not.toMatch(/\bINTO\b/);
    const log = await openTestLog();
    // The demo's summary5s rows as the agent sends them: GROUP BY source, point → the key; the aliases → the row.
    for (const device of ['demo-gateway', 'gateway-2']) {
      const agent = new AgentScript(device, 'boot-1');
      const records = [];
      for (let w = 0; w < 6; w++) {
        for (const point of ['temperature', 'pressure']) {
          const ws = T0 + w * FIVE_S;
          records.push(agent.result({ query: DEMO_QUERY.name, out: 'output', key: JSON.stringify(['plc-1', point]), ws, we: ws + FIVE_S, rev: 0, row: { source: 'plc-1', point, n: 5, avg: 20 + w, min: 19 + w, max: 21 + w } }));
        }
      }
      // gateway-2 loses one message: its later windows stay incomplete behind the gap.
      const sent = device === 'gateway-2' ? records.filter((_, i) => i !== 4) : records;
      for (const [i, r] of sent.entries()) await log.append(toTelemetry(packMessage(device, agent.boot, [r])), T0 + 60_000 + i);
    }
    const store = await stores.create();
    await store.migrate();
    const client = new pg.Client({ connectionString: stores.locationOf(store) });
    try {
      const reconciler = new Reconciler({ source: new MessageLogSource(log.log), store, clock: new ManualClock(T0 + 120_000) });
      await reconciler.runOnce();
      await client.connect();
      const from = T0 - 60_000;
      const to = T0 + 120_000;
      const variable = d.templating.list.find((v) => v.name === 'device')!;
      const devices = (await client.query<{ device: string }>(variable.query)).rows.map((r) => r.device);
      expect(devices).toEqual(['demo-gateway', 'gateway-2']);
      let incomplete = 0;
      for (const p of d.panels) {
        for (const t of p.targets) {
          if (t.rawSql === undefined) continue;
          const res = await client.query(expand(t.rawSql, devices, from, to));
          expect(res.rows.length, p.title).toBeGreaterThan(0);
          const columns = res.fields.map((f) => f.name);
          if (t.format === 'time_series') {
            // Grafana's long format: a time column, a metric column, numeric values.
            expect(columns.slice(0, 2), p.title).toEqual(['time', 'metric']);
            expect(res.rows[0].time).toBeInstanceOf(Date);
            for (const c of columns.slice(2)) expect(Number.isFinite(Number(res.rows[0][c])), `${p.title}: ${c}`).toBe(true);
          }
          if (/NOT complete/.test(t.rawSql)) incomplete = res.rows.length;
        }
      }
      // gateway-2's 7 windows after its lost message wait on the gap; everything before it is complete.
      expect(incomplete).toBe(7);

      const served = new Set([...(await reconcilerMetrics(store, () => reconciler.counters(), () => reconciler.lag()).metrics()).matchAll(/^# TYPE (\w+)/gm)].map((m) => m[1]!));
      const charted = d.panels.flatMap((p) => p.targets.flatMap((t) => [...(t.expr ?? '').matchAll(/edge_reconciler_\w+/g)].map((m) => m[0])));
      expect(charted.length).toBeGreaterThan(0);
      for (const name of charted) expect(served, name).toContain(name);
    } finally {
      await client.end().catch(() => undefined);
      await store.close();
      await log.close();
    }
  });
});
