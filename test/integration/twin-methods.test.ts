import { afterEach, describe, expect, it } from 'vitest';
import { recordsOf, startHub, untilTelemetry } from '../support/hub.js';
import { tempDir } from '../support/tmp.js';
import { next, startTwinAgent } from '../agent/twin/support.js';

describe('direct methods on the agent', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('ping, getHealth, resend (from retention) and restartDriver answer through the hub, bad calls are 400/404', async () => {
    const { hub, close } = await startHub();
    cleanups.push(close);
    const dev = await hub.registerDevice('methods');
    const data = tempDir('twin-methods');
    cleanups.push(data.cleanup);
    const run = await startTwinAgent(hub, dev.connectionString, data.path);
    cleanups.push(() => run.agent.stop(0));
    await next(run.reported, 'sent', (p) => p.agent !== undefined);
    await untilTelemetry(hub, async () => (await recordsOf(hub, 'methods')).length >= 20 && hub.subscriptions('methods').methods);

    const ping = await hub.invokeMethod('methods', 'ping', {});
    expect(ping).toMatchObject({ status: 200, payload: { pong: true, boot: run.agent.boot } });

    const health = await hub.invokeMethod('methods', 'getHealth');
    expect(health.status).toBe(200);
    expect(health.payload).toMatchObject({ stats: { deviceId: 'methods', drivers: { sim: expect.any(Object) } }, connection: { state: 'connected', history: expect.any(Array) }, config: { version: expect.any(Number) } });

    const before = (await recordsOf(hub, 'methods')).length;
    const resend = await hub.invokeMethod('methods', 'resend', { fromSeq: 1, toSeq: 10 });
    expect(resend).toMatchObject({ status: 200, payload: { fromSeq: 1, toSeq: 10, resent: 10, evicted: [] } });
    await untilTelemetry(hub, async () => (await recordsOf(hub, 'methods')).filter((r) => r.seq <= 10).length >= 20);
    expect((await recordsOf(hub, 'methods')).length).toBeGreaterThan(before);

    expect(await hub.invokeMethod('methods', 'resend', { fromSeq: 5, toSeq: 2 })).toMatchObject({ status: 400, payload: { error: { code: 'EDGE_USAGE' } } });
    expect(await hub.invokeMethod('methods', 'resend', 'nonsense')).toMatchObject({ status: 400 });

    const restart = await hub.invokeMethod('methods', 'restartDriver', { name: 'sim' });
    expect(restart).toMatchObject({ status: 200, payload: { name: 'sim', restarted: true } });
    const after = run.agent.stats().readings;
    await untilTelemetry(hub, () => run.agent.stats().readings > after + 10);
    expect(await hub.invokeMethod('methods', 'restartDriver', { name: 'nope' })).toMatchObject({ status: 404 });
  });
});
