import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../agent/config/load.js';
import { ManualClock } from '../../agent/core/clock.js';
import { silentLogger } from '../../agent/core/logger.js';
import type { Reading } from '../../agent/core/reading.js';
import { EdgeAgent } from '../../agent/runtime/edge-agent.js';
import { testTransport } from '../support/agent.js';
import { recordsOf, startHub, untilTelemetry } from '../support/hub.js';
import { tempDir } from '../support/tmp.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('deadband settings changed live (the twin)', () => {
  it('a new deadband applies from the next reading, its filter starting empty; the counts go on', async () => {
    const { hub, close } = await startHub();
    cleanups.push(close);
    const dev = await hub.registerDevice('gw-db');
    const data = tempDir('deadband-reconfigure');
    cleanups.push(data.cleanup);
    const clock = new ManualClock(Date.now());
    // Injected readings come as driver "send-test": the section of that name carries their deadband.
    const configWith = (absolute: number) =>
      parseConfig(
        {
          hub: { connectionString: dev.connectionString },
          dataDir: join(data.path, 'data'),
          forwarding: { lingerMs: 0, retryInitialMs: 50, retryMaxMs: 200 },
          drivers: [{ type: 'synthetic', name: 'send-test', source: 'boiler-1', deadband: { absolute }, points: [{ name: 'temp' }] }],
        },
        'test config',
      );
    const config = configWith(5);
    const agent = await EdgeAgent.start({ config, deviceId: 'gw-db', drivers: [], transport: testTransport(dev.connectionString, hub.caPem, config, clock), clock, logger: silentLogger });
    cleanups.push(() => agent.stop(0));
    const reading = (value: number): Reading => ({ source: 'boiler-1', point: 'temp', value, quality: 'good', receivedAt: clock.now() });
    const temps = async () => ((await recordsOf(hub, 'gw-db')) as Array<{ kind: string; pt?: string; v?: number }>).filter((r) => r.kind === 'reading' && r.pt === 'temp').map((r) => r.v);

    // One batch, so one pipeline step: when 10 is at the hub, 11 has been kept back.
    await agent.inject([reading(10), reading(11)]);
    await untilTelemetry(hub, async () => (await temps()).length >= 1);
    await agent.reconfigure(configWith(0.5), []);
    // 11.2 is within the old band of 10 but passes: the new stage's filter is empty. Then 0.5 applies.
    for (const v of [11.2, 11.5, 12]) await agent.inject([reading(v)]);
    await untilTelemetry(hub, async () => (await temps()).length >= 3);
    expect(await temps()).toEqual([10, 11.2, 12]);
    expect(agent.stats().deadband).toEqual({ suppressed: 2, points: [{ driver: 'send-test', source: 'boiler-1', point: 'temp', suppressed: 2 }] });
  });
});
