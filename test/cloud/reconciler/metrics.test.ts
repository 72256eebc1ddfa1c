import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestLog, type TestLog } from './support/real-log.js';
import { buildScenario } from './support/scenario.js';
import { finished, spawnCli, untilOutput } from '../../support/cli.js';
import { conventionProblems, parseExposition, sampleValue } from '../../support/prom-text.js';

describe('edge-agent cloud run serves /metrics beside its HTTP API', () => {
  let log: TestLog;
  let work: string;
  // Evicted and dropped records: gaps open, the emulator is not running to resend.
  const scenario = buildScenario({ seed: 15, devices: 2, recordsPerDevice: 120, dropRate: 0.1, evictRate: 1, duplicateRate: 0.2 });

  beforeAll(async () => {
    log = await openTestLog(scenario.deliveries);
    work = await mkdtemp(join(tmpdir(), 'reconciler-metrics-'));
  });
  afterAll(async () => {
    await log.close();
    await rm(work, { recursive: true, force: true });
  });

  it('counters named _total, per-device gaps and last enqueued time; values match what was reconciled', async () => {
    const p = spawnCli(['cloud', 'run', '--hub-data-dir', log.dir, '--store', `sqlite:${join(work, 'm.db')}`, '--http-port', '0', '--http-host', '0.0.0.0', '--poll', '50ms'], { EDGE_LOG_LEVEL: 'info' });
    const exited = finished(p);
    try {
      const caughtUp = untilOutput(p.stdout, /"msg":"caught up"/);
      const url = /HTTP API on (http:\/\/\S+)/.exec(await untilOutput(p.stderr, /HTTP API on http:\/\/\S+ /))![1]!;
      const logged = (await caughtUp).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string; behind?: number });
      // Round robin: after the first partition's batch the other three are still unread.
      expect(logged.find((l) => l.msg === 'catching up')?.behind).toBeGreaterThan(0);
      expect(logged.at(-1)).toMatchObject({ msg: 'caught up', behind: 0 });
      expect(url).toMatch(/^http:\/\/0\.0\.0\.0:\d+$/);
      const res = await fetch(`${url.replace('0.0.0.0', '127.0.0.1')}/metrics`);
      expect(res.status).toBe(200);
      const f = parseExposition(await res.text());
      expect(conventionProblems(f, 'edge_reconciler_')).toEqual([]);
      for (const name of ['edge_reconciler_records_accepted_total', 'edge_reconciler_duplicates_dropped_total', 'edge_reconciler_resend_requests_total', 'edge_reconciler_device_records_total', 'process_cpu_seconds_total']) {
        expect(f.get(name)?.type, name).toBe('counter');
      }
      for (const name of ['edge_reconciler_gaps_open', 'edge_reconciler_device_last_enqueued_timestamp_seconds', 'nodejs_heap_size_used_bytes']) expect(f.get(name)?.type, name).toBe('gauge');
      const devices = [...new Set(scenario.deliveries.map((d) => d.telemetry.deviceId))].sort();
      expect(f.get('edge_reconciler_gaps_open')!.samples.map((s) => s.labels.device).sort()).toEqual(devices);
      const accepted = sampleValue(f, 'edge_reconciler_records_accepted_total')!;
      expect(accepted).toBeGreaterThan(0);
      const perDevice = f.get('edge_reconciler_device_records_total')!.samples.reduce((n, s) => n + s.value, 0);
      expect(perDevice).toBe(accepted);
      const openGaps = f.get('edge_reconciler_gaps_open')!.samples.reduce((n, s) => n + s.value, 0);
      expect(openGaps).toBeGreaterThan(0);
      const newest = Math.max(...scenario.deliveries.map((d) => d.enqueuedTime)) / 1000;
      // The hub's enqueued times (the test log's manual clock), in seconds: the newest is no later than the last delivery.
      const last = Math.max(...f.get('edge_reconciler_device_last_enqueued_timestamp_seconds')!.samples.map((s) => s.value));
      expect(last).toBeGreaterThan(0);
      expect(last).toBeLessThanOrEqual(newest);
      // The message log's partitions, each read to its end (endOf).
      const lag = f.get('edge_reconciler_partition_lag_events')!.samples;
      expect(lag.map((s) => [s.labels.partition, s.value]).sort()).toEqual([['0', 0], ['1', 0], ['2', 0], ['3', 0]]);
      expect(sampleValue(f, 'edge_reconciler_events_read_total')).toBe(scenario.deliveries.length);
      // The log's 4 partitions and the data dir's backlog files (`--hub-data-dir` reads both); the
      // files source cannot say where it ends, so it has no lag series.
      expect(sampleValue(f, 'edge_reconciler_partitions_owned')).toBe(5);
    } finally {
      p.kill('SIGTERM');
      expect((await exited).code).toBe(0);
    }
  });
});
