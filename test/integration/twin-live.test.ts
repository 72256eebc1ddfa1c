import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { ReadingRecord } from '../../agent/core/wire.js';
import { lastGoodPath, loadLastGood } from '../../agent/config/last-good.js';
import { recordsOf, startHub, untilTelemetry } from '../support/hub.js';
import { tempDir } from '../support/tmp.js';
import { next, startTwinAgent, syntheticDriver } from '../agent/twin/support.js';

describe('twin: desired properties applied live, bad ones refused and reported', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('applies a change live without losing buffered data, refuses bad pushes atomically, reports both', async () => {
    const { hub, close } = await startHub();
    cleanups.push(close);
    const dev = await hub.registerDevice('twin-live');
    const data = tempDir('twin-live');
    cleanups.push(data.cleanup);
    const run = await startTwinAgent(hub, dev.connectionString, data.path, { twin: { reportMinIntervalMs: 100, maxDesiredBytes: 4096 } });
    const sentAt: number[] = [];
    run.reported.on('sent', () => sentAt.push(Date.now()));
    let stopped = false;
    cleanups.push(async () => {
      if (!stopped) await run.agent.stop(0);
    });
    await next(run.reported, 'sent', (p) => p.agent !== undefined);
    expect(hub.getTwin('twin-live').reported).toMatchObject({ agent: { deviceId: 'twin-live', version: expect.any(String) }, config: { version: 1, source: 'twin' }, health: { connection: { state: 'connected' }, drivers: { sim: expect.any(String) } } });

    // 1. A good change: new point, faster polling, shorter linger — applied live.
    const applied = next(run.twin.events, 'applied');
    const { version } = await hub.updateDesired('twin-live', { drivers: [syntheticDriver(5, ['p0', 'p1', 'p2'])], forwarding: { lingerMs: 10 } });
    expect((await applied)[0]).toBe(version);
    expect(run.twin.config.forwarding.lingerMs).toBe(10);
    await untilTelemetry(hub, async () => ((await recordsOf(hub, 'twin-live')) as ReadingRecord[]).some((r) => r.pt === 'p2'));
    await next(run.reported, 'sent', (p) => (p.config as { version?: number } | undefined)?.version === version);
    expect(hub.getTwin('twin-live').reported.config).toMatchObject({ version, source: 'twin' });
    expect((await loadLastGood(data.path)).value).toMatchObject({ version, desired: { forwarding: { lingerMs: 10 } } });

    // 2. Bad pushes: each refused whole, reported with path and reason; the good config keeps running.
    const bad: Array<[Record<string, unknown>, string, Record<string, unknown>]> = [
      [{ forwarding: { lingerMs: 'fast' }, log: { level: 'debug' } }, 'forwarding.lingerMs', { forwarding: { lingerMs: 10 }, log: null }],
      [{ analytics: { queries: [{ name: 'q1', query: 'SELEC point FROM readings' }] } }, 'analytics.queries.0.query', { analytics: null }],
      [{ forwarding: { lingerMS: 5 } }, 'forwarding', { forwarding: { lingerMS: null } }],
      [{ hub: { connectionString: 'HostName=evil;DeviceId=x;SharedAccessKey=AA==' } }, 'hub', { hub: null }],
      // Over the agent's own limit (twin.maxDesiredBytes, 4 KB here), though the hub took it.
      [{ drivers: [syntheticDriver(5, ['p0', 'p1', 'p2', 'x'.repeat(5000)])] }, '(root)', { drivers: [syntheticDriver(5, ['p0', 'p1', 'p2'])] }],
    ];
    let inForce = version;
    for (const [patch, path, undo] of bad) {
      const refused = next(run.twin.events, 'refused');
      const r = await hub.updateDesired('twin-live', patch);
      const [v, reason] = await refused;
      expect(v).toBe(r.version);
      expect(reason.path).toBe(path);
      await next(run.reported, 'sent', (p) => (p.configRefused as Record<string, unknown> | undefined)?.[`v${r.version}`] !== undefined);
      expect(hub.getTwin('twin-live').reported.configRefused).toMatchObject({ [`v${r.version}`]: { path, message: expect.any(String) } });
      expect(run.twin.configStatus().version).toBe(inForce);
      expect(run.twin.config.log.level).toBe('info');
      expect(run.twin.config.forwarding.lingerMs).toBe(10);
      // Taking the bad setting back out makes the desired document good again.
      const back = next(run.twin.events, 'applied');
      const u = await hub.updateDesired('twin-live', undo);
      expect((await back)[0]).toBe(u.version);
      inForce = u.version;
    }
    // 3. A fix to a refused push applies the whole document, as the operator meant it.
    const refused = next(run.twin.events, 'refused');
    await hub.updateDesired('twin-live', { log: { level: 'warn' }, forwarding: { lingerMs: -1 } });
    await refused;
    const fixed = next(run.twin.events, 'applied');
    const r = await hub.updateDesired('twin-live', { forwarding: { lingerMs: 15 } });
    expect((await fixed)[0]).toBe(r.version);
    expect(run.twin.config.log.level).toBe('warn');
    expect(run.twin.config.forwarding.lingerMs).toBe(15);

    // Throttled: never two reported updates closer than twin.reportMinIntervalMs (100 ms here).
    const gaps = sentAt.slice(1).map((t, i) => t - sentAt[i]!);
    expect(sentAt.length).toBeGreaterThan(5);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(95);

    await run.agent.stop(10_000);
    stopped = true;
    const stats = run.agent.stats();
    const seqs = [...new Set(((await recordsOf(hub, 'twin-live')) as ReadingRecord[]).map((x) => x.seq))].sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: stats.readings }, (_, i) => i + 1));
    expect(existsSync(lastGoodPath(data.path))).toBe(true);
  });

  it('swaps queries and tolerances live: results of the new query flow, nothing buffered is lost', async () => {
    const { hub, close } = await startHub();
    cleanups.push(close);
    const dev = await hub.registerDevice('twin-query');
    const data = tempDir('twin-query');
    cleanups.push(data.cleanup);
    const run = await startTwinAgent(hub, dev.connectionString, data.path);
    let stopped = false;
    cleanups.push(async () => {
      if (!stopped) await run.agent.stop(0);
    });
    await untilTelemetry(hub, async () => (await recordsOf(hub, 'twin-query')).length >= 20);
    const applied = next(run.twin.events, 'applied');
    const { version } = await hub.updateDesired('twin-query', {
      analytics: { queries: [{ name: 'count1s', query: 'SELECT point, COUNT(*) AS n FROM readings GROUP BY point, TumblingWindow(second, 1)' }], tolerances: { lateArrivalMs: 2000 }, forwardReadings: true },
    });
    expect((await applied)[0]).toBe(version);
    await untilTelemetry(hub, async () => (await recordsOf(hub, 'twin-query')).some((r) => r.kind === 'result' && (r as { query?: string }).query === 'count1s'));
    expect(run.agent.stats().analytics?.counters).toHaveProperty('count1s');
    await run.agent.stop(10_000);
    stopped = true;
    const seqs = [...new Set((await recordsOf(hub, 'twin-query')).map((x) => x.seq))].sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: run.agent.stats().nextSeq - 1 }, (_, i) => i + 1));
  });
});
