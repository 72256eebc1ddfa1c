import { afterEach, describe, expect, it } from 'vitest';
import { SlaveModel } from '../../../drivers/simulators/slave-model.js';
import { TcpSlaveSimulator } from '../../../drivers/simulators/tcp-slave.js';
import { runCli } from '../../support/cli.js';
import { recordsOf, untilTelemetry } from '../../support/hub.js';
import { startCliAgent, type RunningCliAgent } from '../diagnostics/running-agent.js';

describe('edge-agent sensors shows the last write of each point', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('a writePoint done and one refused, on `edge-agent run`, appear under "last writes"', async () => {
    const model = new SlaveModel();
    const sim = await TcpSlaveSimulator.listen({ slaves: { 1: model } });
    cleanups.push(() => sim.close());
    const a: RunningCliAgent = await startCliAgent({
      deviceId: 'sensors-writes',
      config: {
        drivers: [
          {
            type: 'modbus',
            name: 'plc',
            devices: [
              {
                name: 'boiler',
                transport: { kind: 'tcp', host: sim.host, port: sim.port },
                unitId: 1,
                pollMs: 200,
                points: [
                  { name: 'setpoint', table: 'holding', address: 0, type: 'int16', writable: true, max: 100 },
                  { name: 'level', table: 'holding', address: 1 },
                ],
              },
            ],
          },
        ],
      },
    });
    cleanups.push(a.cleanup);
    await untilTelemetry(a.hub, async () => (await recordsOf(a.hub, 'sensors-writes')).length > 0 && a.hub.subscriptions('sensors-writes').methods);
    expect(await a.hub.invokeMethod('sensors-writes', 'writePoint', { driver: 'plc', device: 'boiler', point: 'setpoint', value: 55, by: 'ops' })).toMatchObject({ status: 200, payload: { readBack: 55 } });
    expect(await a.hub.invokeMethod('sensors-writes', 'writePoint', { driver: 'plc', device: 'boiler', point: 'level', value: 1 })).toMatchObject({ status: 403 });

    const run = await runCli(['sensors', '--socket', a.socketPath]);
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/^last writes\s+point\s+requested\s+read back\s+outcome\s+by\s+age/m);
    expect(run.stdout).toMatch(/^plc\/boiler\s+level\s+1\s+—\s+refused\s+direct method\s+\S+.*EDGE_WRITE_REFUSED: .*not writable/m);
    expect(run.stdout).toMatch(/^plc\/boiler\s+setpoint\s+55\s+55\s+done\s+ops\s+/m);
    const json = JSON.parse((await runCli(['sensors', '--json', '--socket', a.socketPath])).stdout) as { writes: Array<{ point: string; outcome: string; by: string }> };
    expect(json.writes.map((w) => [w.point, w.outcome, w.by])).toEqual([
      ['level', 'refused', 'direct method'],
      ['setpoint', 'done', 'ops'],
    ]);
  }, 60_000); // child processes (the CLI, the agent) under a loaded suite
});
