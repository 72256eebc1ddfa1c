import { afterEach, describe, expect, it } from 'vitest';
import { systemClock, type Clock } from '../../agent/core/clock.js';
import { silentLogger } from '../../agent/core/logger.js';
import { parseConfig } from '../../agent/config/load.js';
import type { ReadingRecord } from '../../agent/core/wire.js';
import { EdgeAgent } from '../../agent/runtime/edge-agent.js';
import { ConnectionSupervisor } from '../../agent/transport/supervisor.js';
import { SyntheticDriver } from '../../drivers/synthetic/synthetic-driver.js';
import { IotHubEmulator } from '../../cloud/iothub/index.js';
import { recordsOf, startHub, untilTelemetry } from '../support/hub.js';
import { tempDir } from '../support/tmp.js';
import { supervisorOptions, untilHistory } from '../agent/transport/support.js';

/** Real timers, but `now()` can be moved forward: the hub and the agent share it. */
class OffsetClock implements Clock {
  offset = 0;
  now(): number {
    return Date.now() + this.offset;
  }
  setTimeout(fn: () => void, ms: number) {
    return systemClock.setTimeout(fn, ms);
  }
  clearTimeout(h: ReturnType<Clock['setTimeout']>): void {
    systemClock.clearTimeout(h);
  }
}

describe('connection supervisor under faults', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('detects a half-open link within livenessInterval + livenessTimeout, and reconnects', async () => {
    const { hub, close } = await startHub();
    cleanups.push(close);
    const dev = await hub.registerDevice('half-open');
    const liveness = { livenessIntervalMs: 300, livenessTimeoutMs: 300, reconnectInitialMs: 20, reconnectMaxMs: 200 };
    const s = new ConnectionSupervisor(supervisorOptions(dev.connectionString, hub.caPem, { connection: liveness }));
    cleanups.push(() => s.close());
    await s.connect();
    const bound = liveness.livenessIntervalMs + liveness.livenessTimeoutMs;

    const lost = untilHistory(s, (e) => e.event === 'lost');
    const t0 = Date.now();
    expect(hub.faults.goSilent('half-open')).toBe(true);
    const e = await lost;
    const detectedMs = Date.now() - t0;
    console.log(`half-open detected after ${detectedMs} ms (bound ${bound} ms; keep-alive 60 s would take up to 90 s)`);
    expect(e).toMatchObject({ code: 'EDGE_TRANSPORT_TIMEOUT', reason: expect.stringMatching(/half-open/) });
    // A loaded CI box (two test files at once on two cores) adds event-loop lag: allow 1.5 s of
    // it. Still two orders of magnitude under what keep-alive alone would take.
    expect(detectedMs).toBeLessThanOrEqual(bound + 1500);

    await untilHistory(s, (x) => x.event === 'connected');
    expect(s.status()).toMatchObject({ state: 'connected', generation: 2 });
  });

  it('loses nothing across a half-open link under load: detected, rebuilt, every seq delivered', async () => {
    const { hub, close } = await startHub();
    cleanups.push(close);
    const dev = await hub.registerDevice('half-open-load');
    const data = tempDir('half-open-load');
    cleanups.push(data.cleanup);
    const liveness = { livenessIntervalMs: 300, livenessTimeoutMs: 300, reconnectInitialMs: 20, reconnectMaxMs: 200 };
    const s = new ConnectionSupervisor(supervisorOptions(dev.connectionString, hub.caPem, { connection: liveness, sendTimeoutMs: 2000 }));
    const config = parseConfig({ hub: { connectionString: dev.connectionString }, dataDir: data.path, forwarding: { lingerMs: 20, retryInitialMs: 50, retryMaxMs: 200 } }, 'test');
    const driver = new SyntheticDriver({ name: 'synthetic', source: 'sim-1', intervalMs: 5, points: [{ name: 'p0' }], clock: systemClock });
    const agent = await EdgeAgent.start({ config, deviceId: 'half-open-load', drivers: [driver], transport: s, clock: systemClock, logger: silentLogger });
    let stopped = false;
    cleanups.push(async () => {
      if (!stopped) await agent.stop(0);
    });
    s.start();
    await untilTelemetry(hub, () => hub.messageCount() >= 5);
    const lost = untilHistory(s, (e) => e.event === 'lost');
    const t0 = Date.now();
    hub.faults.goSilent('half-open-load');
    const e = await lost;
    const detectedMs = Date.now() - t0;
    console.log(`half-open under load detected after ${detectedMs} ms: ${e.reason}`);
    // Sends in flight get no ack either: whichever notices first (probe or send timeout) wins.
    expect(detectedMs).toBeLessThanOrEqual(Math.min(liveness.livenessIntervalMs + liveness.livenessTimeoutMs, 2000) + 1500);
    await untilHistory(s, (x) => x.event === 'connected');
    const after = agent.stats().readings;
    await untilTelemetry(hub, async () => ((await recordsOf(hub, 'half-open-load')) as ReadingRecord[]).some((r) => r.seq > after));
    await agent.stop(10_000);
    stopped = true;
    const stats = agent.stats();
    const seqs = [...new Set(((await recordsOf(hub, 'half-open-load')) as ReadingRecord[]).map((r) => r.seq))].sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: stats.readings }, (_, i) => i + 1));
  });

  it('keeps retrying through a refusal longer than the SDK’s 240 s give-up, then recovers in the same process', async () => {
    const clock = new OffsetClock();
    const dir = tempDir('hub-240');
    cleanups.push(dir.cleanup);
    const hub = await IotHubEmulator.start({ dataDir: dir.path, clock });
    cleanups.push(() => hub.stop());
    const dev = await hub.registerDevice('long-outage');
    const s = new ConnectionSupervisor(supervisorOptions(dev.connectionString, hub.caPem, { clock }));
    cleanups.push(() => s.close());
    await s.connect();

    hub.faults.refuseConnections({ mode: 'server-unavailable', durationMs: 300_000 });
    const lost = untilHistory(s, (e) => e.event === 'lost');
    hub.faults.dropConnection('long-outage');
    const lostAt = (await lost).at;
    let failures = 0;
    const failedN = (n: number) => new Promise<void>((resolve) => s.events.on('history', (e) => e.event === 'failed' && ++failures >= n && resolve()));
    await failedN(3);
    clock.offset += 250_000; // past the SDK's 240 s: the SDK's own retry would have given up here
    await failedN(failures + 3);
    expect(s.status().state).toBe('disconnected');
    expect(s.status().lastError?.code).toBe('EDGE_TRANSPORT_UNAVAILABLE');
    clock.offset += 60_000; // the hub's refusal (300 s by its clock) ends
    const back = await untilHistory(s, (e) => e.event === 'connected');
    console.log(`reconnected after ${Math.round((back.at - lostAt) / 1000)} s of (injected) outage and ${failures} refused attempts`);
    expect(back.at - lostAt).toBeGreaterThan(240_000);
    expect(s.status()).toMatchObject({ state: 'connected', generation: 2 });
    await s.send({ messageId: 'after', body: Buffer.from('{}'), contentType: 'application/json', contentEncoding: 'utf-8', properties: {} });
    expect(hub.messageCount()).toBe(1);
  });

  it('renews short-lived SAS tokens at least three times with zero loss and no failed send', async () => {
    const { hub, close } = await startHub();
    cleanups.push(close);
    const dev = await hub.registerDevice('sas-renew');
    const data = tempDir('sas-renew');
    cleanups.push(data.cleanup);
    const s = new ConnectionSupervisor(supervisorOptions(dev.connectionString, hub.caPem, { sas: { tokenTtlSeconds: 3, renewBeforeSeconds: 1 } }));
    const expiredCuts: string[] = [];
    hub.on('disconnected', (id) => expiredCuts.push(id));
    const config = parseConfig({ hub: { connectionString: dev.connectionString }, dataDir: data.path, forwarding: { lingerMs: 20, retryInitialMs: 50, retryMaxMs: 200 } }, 'test');
    const driver = new SyntheticDriver({ name: 'synthetic', source: 'sim-1', intervalMs: 5, points: [{ name: 'p0' }, { name: 'p1' }], clock: systemClock });
    const agent = await EdgeAgent.start({ config, deviceId: 'sas-renew', drivers: [driver], transport: s, clock: systemClock, logger: silentLogger });
    let stopped = false;
    cleanups.push(async () => {
      if (!stopped) await agent.stop(0);
    });
    s.start();
    await new Promise<void>((resolve) => s.events.on('history', () => s.history.totals.renewals >= 3 && s.history.totals.connects >= 4 && resolve()));
    await agent.stop(10_000);
    stopped = true;
    const stats = agent.stats();
    const seqs = [...new Set(((await recordsOf(hub, 'sas-renew')) as ReadingRecord[]).map((r) => r.seq))].sort((a, b) => a - b);
    console.log(`SAS renewals: ${s.history.totals.renewals}, connects: ${s.history.totals.connects}, readings: ${stats.readings}, send failures: ${stats.forwarder.sendFailures}`);
    expect(s.history.totals.losses).toBe(0); // never cut by the hub for an expired token
    expect(stats.forwarder.sendFailures).toBe(0);
    expect(stats.readings).toBeGreaterThan(100);
    expect(seqs).toEqual(Array.from({ length: stats.readings }, (_, i) => i + 1));
    expect(stats.outboxDepth).toBe(0);
  });
});

