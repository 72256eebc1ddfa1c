import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../agent/core/clock.js';
import { createRootLogger } from '../../../agent/core/logger.js';
import { IotHubEmulator } from '../../../cloud/iothub/index.js';
import { ProgressReporter } from '../../../cloud/reconciler/index.js';
import { openTestLog, type TestLog } from './support/real-log.js';
import { buildScenario } from './support/scenario.js';
import { finished, spawnCli, untilOutput } from '../../support/cli.js';
import { parseExposition, sampleValue } from '../../support/prom-text.js';

interface LagLine {
  msg: string;
  behind: number;
  eventsPerSecond?: number;
  recordsPerSecond?: number;
  etaSeconds?: number;
  partitions: Array<{ partition: string; behind: number | null; newestAgeSeconds: number | null }>;
}

function lines(text: string): LagLine[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LagLine)
    .filter((l) => l.msg === 'catching up' || l.msg === 'caught up');
}

describe('cloud run behind a backlog: lag and progress in its log and on /metrics', () => {
  let log: TestLog;
  let work: string;
  let hub: IotHubEmulator;
  const scenario = buildScenario({ seed: 17, devices: 4, recordsPerDevice: 150, perMessage: 2 });

  beforeAll(async () => {
    log = await openTestLog(scenario.deliveries);
    await log.log.close();
    hub = await IotHubEmulator.start({ dataDir: log.dir, amqpPort: 0 });
    work = await mkdtemp(join(tmpdir(), 'reconciler-lag-'));
  });
  afterAll(async () => {
    await hub.stop();
    await rm(log.dir, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  });

  it('over the AMQP endpoint: `catching up` lines with lag per partition, rates and an estimate, then `caught up` and lag 0 on /metrics', async () => {
    const events = scenario.deliveries.length;
    const p = spawnCli(
      ['cloud', 'run', '--event-hubs', hub.eventHubsConnectionString()!, '--store', `sqlite:${join(work, 'lag.db')}`, '--http-port', '0', '--batch-size', '5', '--progress-every', '1ms', '--poll', '50ms'],
      { EDGE_LOG_LEVEL: 'info' },
    );
    const exited = finished(p);
    try {
      const url = /HTTP API on (http:\/\/\S+)/.exec(await untilOutput(p.stderr, /HTTP API on http:\/\/\S+ /))![1]!;
      const out = await untilOutput(p.stdout, /"msg":"caught up"/);
      const logged = lines(out);
      const catching = logged.filter((l) => l.msg === 'catching up');
      expect(catching.length).toBeGreaterThan(1);
      // The first line already knows the backlog (the receiver's last enqueued sequence number).
      expect(catching[0]!.behind).toBeGreaterThan(0);
      expect(catching[0]!.behind).toBeLessThan(events);
      expect(catching[0]!.partitions.map((x) => x.partition).sort()).toEqual(['0', '1', '2', '3']);
      // Per partition, once its end is known, lag only falls while a fixed backlog drains (the
      // sum may rise first: a partition's end is learnt with the client's first delivery from it).
      for (const partition of ['0', '1', '2', '3']) {
        const seen = catching.map((l) => l.partitions.find((x) => x.partition === partition)!.behind).filter((b): b is number => b !== null);
        expect(seen.length, partition).toBeGreaterThan(0);
        for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeLessThanOrEqual(seen[i - 1]!);
      }
      const rated = catching.filter((l) => l.eventsPerSecond !== undefined);
      expect(rated.length).toBeGreaterThan(0);
      expect(rated.some((l) => l.eventsPerSecond! > 0 && l.recordsPerSecond! > 0 && l.etaSeconds! >= 0)).toBe(true);
      const done = logged.at(-1)!;
      expect(done.msg).toBe('caught up');
      expect(done.behind).toBe(0);
      expect(done.partitions.every((x) => x.behind === 0 && x.newestAgeSeconds !== null)).toBe(true);

      const f = parseExposition(await (await fetch(`${url}/metrics`)).text());
      expect(f.get('edge_reconciler_partition_lag_events')?.type).toBe('gauge');
      const lag = f.get('edge_reconciler_partition_lag_events')!.samples;
      expect(lag.map((s) => s.labels.partition).sort()).toEqual(['0', '1', '2', '3']);
      expect(lag.every((s) => s.value === 0)).toBe(true);
      expect(f.get('edge_reconciler_events_read_total')?.type).toBe('counter');
      expect(sampleValue(f, 'edge_reconciler_events_read_total')).toBe(events);
      expect(sampleValue(f, 'edge_reconciler_partitions_owned')).toBe(4);
      const newest = f.get('edge_reconciler_partition_newest_read_enqueued_timestamp_seconds')!.samples;
      expect(Math.max(...newest.map((s) => s.value))).toBe(Math.max(...scenario.deliveries.map((d) => d.enqueuedTime)) / 1000);
    } finally {
      p.kill('SIGTERM');
      expect((await exited).code).toBe(0);
    }
  });
});

describe('ProgressReporter', () => {
  it('logs at once when behind, then per interval with rates and an estimate, and caught up once', () => {
    const clock = new ManualClock(1_000_000);
    const chunks: string[] = [];
    const sink = { write: (s: string) => (chunks.push(s), true) } as unknown as NodeJS.WritableStream;
    const r = new ProgressReporter(clock, createRootLogger('info', sink), 10_000);
    const lag = (behind: number) => [{ partition: '0', behind, newestEnqueuedTime: clock.now() - 60_000 }];
    expect(r.due()).toBe(true);
    r.behind(lag(1000), 100, 200);
    expect(r.due()).toBe(false);
    clock.advance(10_000);
    expect(r.due()).toBe(true);
    r.behind(lag(500), 600, 1200);
    r.caughtUp(lag(0), { accepted: 1200 });
    // Nothing new behind since: no second `caught up`.
    r.caughtUp(lag(0), { accepted: 1200 });
    expect(r.due()).toBe(true);
    r.behind(lag(0), 700, 1400);
    // Keeping up: looked at once, then not again within the interval.
    expect(r.due()).toBe(false);
    const got = chunks.map((c) => JSON.parse(c) as LagLine & { accepted?: number });
    expect(got.map((l) => l.msg)).toEqual(['catching up', 'catching up', 'caught up']);
    expect(got[0]!.eventsPerSecond).toBeUndefined();
    expect(got[1]).toMatchObject({ behind: 500, eventsPerSecond: 50, recordsPerSecond: 100, etaSeconds: 10, partitions: [{ partition: '0', behind: 500, newestAgeSeconds: 60 }] });
    expect(got[2]).toMatchObject({ behind: 0, accepted: 1200 });
  });
});
