import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.js';
import { recordsOf, untilTelemetry } from '../../support/hub.js';
import { startCliAgent, type RunningCliAgent } from '../diagnostics/running-agent.js';

type Reading = { kind: string; src?: string; pt?: string };

describe('deadband figures of a running agent (edge-agent run + local IoT Hub)', () => {
  let a: RunningCliAgent;
  const diag = (args: string[]) => runCli([...args, '--socket', a.socketPath]);
  const readingsOf = async (pt: string) => (await recordsOf(a.hub, 'deadband-gw')).filter((r) => (r as Reading).kind === 'reading' && (r as Reading).pt === pt).length;

  beforeAll(async () => {
    a = await startCliAgent({
      deviceId: 'deadband-gw',
      config: {
        drivers: [
          {
            type: 'synthetic',
            name: 'sim',
            source: 'boiler-1',
            intervalMs: 50,
            // t0 holds still (amplitude 0): after its first reading the deadband keeps every one back; t1 opts out.
            deadband: { absolute: 0.5, maxSilenceMs: 600_000 },
            points: [{ name: 't0', amplitude: 0, offset: 20 }, { name: 't1', deadband: false }],
          },
        ],
      },
    });
    await untilTelemetry(a.hub, async () => (await readingsOf('t1')) >= 20);
  });
  afterAll(async () => {
    await a?.cleanup();
  });

  it('the hub got the still point once and the other at every poll', async () => {
    expect(await readingsOf('t0')).toBe(1);
    expect(await readingsOf('t1')).toBeGreaterThanOrEqual(20);
  });

  it('buffer and status show the readings kept back, per point in --json', async () => {
    const b = JSON.parse((await diag(['buffer', '--json'])).stdout) as { deadband: { suppressed: number; points: Array<{ driver: string; source: string; point: string; suppressed: number }> } };
    expect(b.deadband.points.map((p) => [p.driver, p.source, p.point])).toEqual([['sim', 'boiler-1', 't0']]);
    expect(b.deadband.suppressed).toBeGreaterThanOrEqual(19);
    expect(b.deadband.points[0]!.suppressed).toBe(b.deadband.suppressed);
    const text = (await diag(['buffer'])).stdout;
    expect(text).toMatch(/^deadband\s+\d+ readings since start, not forwarded \(1 points; most: boiler-1\/t0 \d+\)$/m);
    const status = await diag(['status']);
    expect(status.stdout).toMatch(/^ {2}deadband\s+\d+ readings since start, not forwarded/m);
    const s = JSON.parse((await diag(['status', '--json'])).stdout) as { buffer: { deadband: { suppressed: number } } };
    expect(s.buffer.deadband.suppressed).toBeGreaterThanOrEqual(b.deadband.suppressed);
  });

  it('Prometheus: a counter per driver source', async () => {
    const res = await fetch(`http://127.0.0.1:${a.metricsPort!}/metrics`);
    const text = await res.text();
    expect(text).toMatch(/^# TYPE edge_agent_deadband_suppressed_readings_total counter$/m);
    const n = Number(/^edge_agent_deadband_suppressed_readings_total\{driver="sim",source="boiler-1"\} (\d+)$/m.exec(text)?.[1]);
    expect(n).toBeGreaterThanOrEqual(19);
  });
});
