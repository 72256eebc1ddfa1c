import { captureLogger } from '../support/log-capture.js';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../agent/config/load.js';
import { systemClock } from '../../agent/core/clock.js';
import type { Driver, DriverHealth, ReadingSink } from '../../agent/core/driver.js';
import type { Reading } from '../../agent/core/reading.js';
import type { ReadingRecord } from '../../agent/core/wire.js';
import { renderStatus } from '../../agent/cli/commands/status.js';
import { paint } from '../../agent/cli/format.js';
import { statusReport } from '../../agent/diagnostics/handlers/status.js';
import { LogControl } from '../../agent/diagnostics/log-control.js';
import { metricsRegistry } from '../../agent/diagnostics/metrics.js';
import { EdgeAgent } from '../../agent/runtime/edge-agent.js';
import { healthSummary } from '../../agent/twin/health-summary.js';
import { testTransport } from '../support/agent.js';
import { recordsOf, startHub, untilTelemetry } from '../support/hub.js';
import { tempDir } from '../support/tmp.js';

/** A driver that hands the sink the batches it is given, one after the other, and records each outcome. */
class ScriptedDriver implements Driver {
  readonly outcomes: Array<'accepted' | { code: unknown; message: string }> = [];
  private done: Promise<void> = Promise.resolve();
  constructor(
    readonly name: string,
    private readonly batches: Reading[][],
  ) {}
  async start(sink: ReadingSink): Promise<void> {
    this.done = (async () => {
      for (const batch of this.batches) {
        await sink(batch).then(
          () => this.outcomes.push('accepted'),
          (err: Error & { code?: unknown }) => this.outcomes.push({ code: err.code, message: err.message }),
        );
      }
    })();
  }
  async stop(): Promise<void> {
    await this.done;
  }
  settled(): Promise<void> {
    return this.done;
  }
  health(): DriverHealth {
    return { state: 'running', sources: {} };
  }
}

describe('a buggy driver: one bad reading among good ones', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('the good ones reach the hub, the bad one is counted and logged once, a batch of only bad ones is refused', async () => {
    const { hub, close } = await startHub();
    cleanups.push(close);
    const dev = await hub.registerDevice('gw-bad');
    const data = tempDir('bad-reading');
    cleanups.push(data.cleanup);
    const { logger, lines } = captureLogger();
    const config = parseConfig({ hub: { connectionString: dev.connectionString }, dataDir: data.path, forwarding: { lingerMs: 20, retryInitialMs: 50, retryMaxMs: 200 } }, 'test config');
    const t = 1_800_000_000_000;
    const r = (point: string, value: unknown): Reading => ({ source: 'plc-1', point, value, quality: 'good', receivedAt: t }) as Reading;
    const driver = new ScriptedDriver('plc', [
      [r('p1', 1), r('p2', Number.NaN), r('p3', 3)],
      [r('p4', Number.NaN), r('p5', { raw: 5 })],
      [r('p6', 6), r('p7', Number.NaN)],
    ]);
    const agent = await EdgeAgent.start({ config, deviceId: 'gw-bad', drivers: [driver], transport: testTransport(dev.connectionString, hub.caPem, config), clock: systemClock, logger });
    cleanups.push(() => agent.stop(0));
    await driver.settled();
    await untilTelemetry(hub, async () => (await recordsOf(hub, 'gw-bad')).length >= 3);
    expect(await agent.drain(10_000)).toBe(true);

    const records = (await recordsOf(hub, 'gw-bad')) as ReadingRecord[];
    expect(records.map((x) => [x.seq, x.pt, x.v])).toEqual([
      [1, 'p1', 1],
      [2, 'p3', 3],
      [3, 'p6', 6],
    ]);
    expect(driver.outcomes).toEqual([
      'accepted',
      { code: 'EDGE_READING_INVALID', message: 'driver plc: reading plc-1/p4 refused: value is not a finite number (and 1 more in the same batch)' },
      'accepted',
    ]);
    const stats = agent.stats();
    expect(stats.readings).toBe(3);
    expect(stats.drivers.plc).toMatchObject({ rejected: 4, rejectedByReason: { 'value is not a finite number': 3, 'value has type object, not number, boolean, string or null': 1 } });
    // One line per driver and reason, not one per reading.
    const refusals = lines.filter((l) => l.code === 'EDGE_READING_INVALID');
    expect(refusals.map((l) => [l.driver, l.reason])).toEqual([
      ['plc', 'value is not a finite number'],
      ['plc', 'value has type object, not number, boolean, string or null'],
    ]);

    // What a technician sees: `edge-agent status` and the Prometheus endpoint.
    const ctx = { agent, version: '0.0.0', clock: systemClock, fileConfig: config, fileDocument: {}, filePath: 'test', logs: new LogControl('info', { write: () => true }) };
    const report = statusReport(ctx);
    expect(report.drivers.plc!.rejected).toBe(4);
    const screen = renderStatus(report, paint({ isTTY: false } as NodeJS.WriteStream));
    expect(screen).toMatch(/^ {2}plc: 4 readings refused \[EDGE_READING_INVALID\]: value is not a finite number ×3; value has type object.* ×1$/m);
    expect(await metricsRegistry(ctx).metrics()).toMatch(/^edge_agent_readings_rejected_total\{driver="plc"\} 4$/m);
    // …and the fleet, in the twin's reported health.
    const connection = { state: 'connected', since: 0, generation: 1, totals: { connects: 1, failures: 0, losses: 0, renewals: 0 } };
    expect(healthSummary(agent.stats(), connection, Date.now())).toMatchObject({ drivers: { plc: 'running' }, readingsRejected: 4 });
  });
});
