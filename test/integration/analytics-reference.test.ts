import { captureLogger } from '../support/log-capture.js';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { renderStatus } from '../../agent/cli/commands/status.js';
import { paint } from '../../agent/cli/format.js';
import { parseConfig } from '../../agent/config/load.js';
import { ManualClock } from '../../agent/core/clock.js';
import type { Reading } from '../../agent/core/reading.js';
import type { ResultRecord } from '../../agent/core/wire.js';
import { statusReport } from '../../agent/diagnostics/handlers/status.js';
import { LogControl } from '../../agent/diagnostics/log-control.js';
import { EdgeAgent } from '../../agent/runtime/edge-agent.js';
import { testTransport } from '../support/agent.js';
import { recordsOf, startHub, untilTelemetry } from '../support/hub.js';
import { tempDir } from '../support/tmp.js';

const QUERY = 'SELECT i.source AS source, i.value AS value, t.maxValue AS maxValue FROM boilers i JOIN thresholds t ON i.point = t.point';

describe('a running agent: a named input by source, JOINed with a reference file that changes', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('joins the file as it is, takes a rewrite at the next check, keeps the last table over a garbled one and reports it', async () => {
    const { hub, close } = await startHub();
    cleanups.push(close);
    const dev = await hub.registerDevice('gw-ref');
    const data = tempDir('analytics-reference');
    cleanups.push(data.cleanup);
    const table = join(data.path, 'thresholds.csv');
    writeFileSync(table, 'point,maxValue\ntemp,50\n');
    const { logger, lines } = captureLogger();
    // The agent's clock: the file is checked every pollMs of it, so the test says when.
    const clock = new ManualClock(Date.now());
    const config = parseConfig(
      {
        hub: { connectionString: dev.connectionString },
        dataDir: join(data.path, 'data'),
        forwarding: { lingerMs: 0, retryInitialMs: 50, retryMaxMs: 200 },
        analytics: {
          queries: [{ name: 'limits', query: QUERY }],
          inputs: { boilers: { sources: ['boiler-1', 'boiler-2'] } },
          reference: { thresholds: { file: table, pollMs: 1000 } },
          forwardReadings: false,
        },
      },
      'test config',
    );
    const agent = await EdgeAgent.start({ config, deviceId: 'gw-ref', drivers: [], transport: testTransport(dev.connectionString, hub.caPem, config, clock), clock, logger });
    cleanups.push(() => agent.stop(0));
    const reading = (source: string, value: number): Reading => ({ source, point: 'temp', value, quality: 'good', receivedAt: clock.now() });
    const results = async () => ((await recordsOf(hub, 'gw-ref')) as ResultRecord[]).filter((r) => r.kind === 'result').map((r) => r.row);
    const until = (n: number) => untilTelemetry(hub, async () => (await results()).length >= n);

    // The chiller is no boiler: not joined, counted as read by no input of the query.
    await agent.inject([reading('boiler-1', 42), reading('chiller-1', 7), reading('boiler-2', 55)]);
    await until(2);
    expect(await results()).toEqual([
      { source: 'boiler-1', value: 42, maxValue: '50' },
      { source: 'boiler-2', value: 55, maxValue: '50' },
    ]);

    // A rewrite is taken at the first check after it, before the readings of that step.
    writeFileSync(table, 'point,maxValue\ntemp,125\n');
    clock.advance(1000);
    await agent.inject([reading('boiler-1', 43)]);
    await until(3);
    expect((await results())[2]).toEqual({ source: 'boiler-1', value: 43, maxValue: '125' });

    // A garbled version (a deployment cut off mid-write) keeps the table in force, and says so once.
    writeFileSync(table, 'point,maxValue\n"temp,13');
    clock.advance(1000);
    await agent.inject([reading('boiler-2', 44)]);
    clock.advance(1000);
    await agent.inject([reading('boiler-1', 45)]);
    await until(5);
    expect((await results()).slice(3)).toEqual([
      { source: 'boiler-2', value: 44, maxValue: '125' },
      { source: 'boiler-1', value: 45, maxValue: '125' },
    ]);
    const counters = agent.stats().analytics!.counters.limits as Record<string, unknown>;
    expect(counters).toMatchObject({
      unmatchedInput: 1,
      reference: { thresholds: { from: table, rows: 1, badVersions: 1, problem: { code: 'EDGE_CONFIG_INVALID', message: expect.stringMatching(/unterminated quoted field/) } } },
    });
    expect(lines.filter((l) => l.msg === 'reference data file cannot be used; the last good table stays in force')).toHaveLength(1);
    const ctx = { agent, version: '0.0.0', clock, fileConfig: config, fileDocument: {}, filePath: 'test', logs: new LogControl('info', { write: () => true }) };
    const screen = renderStatus(statusReport(ctx), paint({ isTTY: false } as NodeJS.WriteStream));
    expect(screen).toMatch(/^ {2}reference thresholds \(.*thresholds\.csv\): 1 rows, read .* ago; 1 bad version since start$/m);
    expect(screen).toMatch(/^ {4}EDGE_CONFIG_INVALID: reference data .*unterminated quoted field.*the last good table stays in force$/m);

    // Put right by a rename-over (how a deployment should write it): taken, the problem cleared.
    writeFileSync(table + '.new', 'point,maxValue\ntemp,80\n');
    renameSync(table + '.new', table);
    clock.advance(1000);
    await agent.inject([reading('boiler-2', 46)]);
    await until(6);
    expect((await results())[5]).toEqual({ source: 'boiler-2', value: 46, maxValue: '80' });
    const after = (agent.stats().analytics!.counters.limits as { reference: Record<string, Record<string, unknown>> }).reference.thresholds!;
    expect(after).toMatchObject({ rows: 1, badVersions: 1 });
    expect(after.problem).toBeUndefined();
  });

  it('takes a changed inline table through a live reconfigure, and the new stage keeps the last good file table', async () => {
    const { hub, close } = await startHub();
    cleanups.push(close);
    const dev = await hub.registerDevice('gw-ref2');
    const data = tempDir('analytics-reference-live');
    cleanups.push(data.cleanup);
    const sitesFile = join(data.path, 'sites.csv');
    writeFileSync(sitesFile, 'source,site\nboiler-1,Hall A\n');
    const { logger, lines } = captureLogger();
    const clock = new ManualClock(Date.now());
    const configWith = (maxValue: number) =>
      parseConfig(
        {
          hub: { connectionString: dev.connectionString },
          dataDir: join(data.path, 'data'),
          forwarding: { lingerMs: 0, retryInitialMs: 50, retryMaxMs: 200 },
          analytics: {
            queries: [
              { name: 'limits', query: 'SELECT i.value AS value, t.maxValue AS maxValue FROM readings i JOIN thresholds t ON i.point = t.point' },
              { name: 'sites', query: 'SELECT i.value AS value, s.site AS site FROM readings i JOIN sites s ON i.source = s.source' },
            ],
            reference: { thresholds: { rows: [{ point: 'temp', maxValue }] }, sites: { file: sitesFile, pollMs: 1000 } },
            forwardReadings: false,
          },
        },
        'test config',
      );
    const config = configWith(50);
    const agent = await EdgeAgent.start({ config, deviceId: 'gw-ref2', drivers: [], transport: testTransport(dev.connectionString, hub.caPem, config, clock), clock, logger });
    cleanups.push(() => agent.stop(0));
    const reading = (value: number): Reading => ({ source: 'boiler-1', point: 'temp', value, quality: 'good', receivedAt: clock.now() });
    const results = async () => ((await recordsOf(hub, 'gw-ref2')) as ResultRecord[]).filter((r) => r.kind === 'result').map((r) => [r.query, r.row]);
    const until = (n: number) => untilTelemetry(hub, async () => (await results()).length >= n);

    await agent.inject([reading(42)]);
    await until(2);
    expect(await results()).toEqual([
      ['limits', { value: 42, maxValue: 50 }],
      ['sites', { value: 42, site: 'Hall A' }],
    ]);

    // The file goes bad, then the twin changes the inline table: a new stage is built live.
    writeFileSync(sitesFile, 'source,site\n"boiler-1,Hall');
    clock.advance(1000);
    await agent.reconfigure(configWith(60), []);
    await agent.inject([reading(43)]);
    await until(4);
    expect((await results()).slice(2)).toEqual([
      ['limits', { value: 43, maxValue: 60 }],
      ['sites', { value: 43, site: 'Hall A' }],
    ]);
    const counters = agent.stats().analytics!.counters as Record<string, { reference?: Record<string, Record<string, unknown>> }>;
    expect(counters.limits!.reference).toEqual({ thresholds: { from: 'inline', rows: 1, badVersions: 0 } });
    expect(counters.sites!.reference!.sites).toMatchObject({ rows: 1, badVersions: 1, problem: { code: 'EDGE_CONFIG_INVALID' } });
    expect(lines.filter((l) => l.msg === 'reference data file cannot be used; the last good table stays in force')).toHaveLength(1);
  });
});
