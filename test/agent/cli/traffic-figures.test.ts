import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.js';
import type { TrafficFigures } from '../../../agent/core/traffic-meter.js';
import { startCliAgent, type RunningCliAgent } from '../diagnostics/running-agent.js';

/** Billed units and bytes per path and class in `buffer`, `status` (text and --json) and /metrics. */
describe('traffic figures of a running agent (edge-agent run + local IoT Hub)', () => {
  let a: RunningCliAgent;
  const utcDay = () => new Date().toISOString().slice(0, 10);
  let dayBefore = '';
  const diag = (args: string[]) => runCli([...args, '--socket', a.socketPath]);

  beforeAll(async () => {
    dayBefore = utcDay();
    a = await startCliAgent({ deviceId: 'traffic-gw' });
    // Returns once the hub acknowledged a reading: the figures have something to show.
    const sent = await diag(['send-test', '--timeout', '20000']);
    expect(sent.code).toBe(0);
  });
  afterAll(async () => {
    await a?.cleanup();
  });

  it('buffer and status --json: per path and class, since start and for today (UTC)', async () => {
    const b = JSON.parse((await diag(['buffer', '--json'])).stdout) as { forwarder: { traffic: TrafficFigures; unitsBilled: number; bytesAcked: number } };
    const { traffic } = b.forwarder;
    const reading = traffic.sinceStart.messages?.reading;
    expect(reading?.units).toBeGreaterThan(0);
    expect(reading?.bytes).toBeGreaterThan(0);
    // The classes add up to the totals the forwarder always had.
    const cells = Object.values(traffic.sinceStart.messages ?? {});
    expect(cells.reduce((n, c) => n + c.units, 0)).toBeLessThanOrEqual(b.forwarder.unitsBilled);
    // The run may straddle midnight UTC.
    expect([dayBefore, utcDay()]).toContain(traffic.days.at(-1)?.day);
    expect(traffic.days.at(-1)?.traffic.messages?.reading?.units).toBeGreaterThan(0);
    const s = JSON.parse((await diag(['status', '--json'])).stdout) as { forwarder: { traffic: TrafficFigures } };
    expect(s.forwarder.traffic.sinceStart.messages?.reading?.units).toBeGreaterThanOrEqual(reading!.units);
  });

  it('buffer and status text show the billed lines', async () => {
    const b = await diag(['buffer']);
    expect(b.stdout).toMatch(/^billed since start\s+messages: .*reading \d+ units \/ /m);
    expect(b.stdout).toMatch(/^billed \d{4}-\d\d-\d\d \(UTC\)\s+messages: /m);
    const s = await diag(['status']);
    expect(s.stdout).toMatch(/billed since start\s+messages: .*reading \d+ units/);
  });

  it('Prometheus: _total counters with path and class labels', async () => {
    const text = await (await fetch(`http://127.0.0.1:${a.metricsPort}/metrics`)).text();
    expect(text).toMatch(/^# TYPE edge_agent_hub_billed_units_total counter$/m);
    expect(text).toMatch(/^edge_agent_hub_billed_units_total\{path="messages",class="reading"\} [1-9]\d*$/m);
    expect(text).toMatch(/^edge_agent_hub_sent_bytes_total\{path="messages",class="reading"\} [1-9]\d*$/m);
  });
});
