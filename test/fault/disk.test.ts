import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { EdgeAgent } from '../../agent/runtime/edge-agent.js';
import type { IotHubEmulator } from '../../cloud/iothub/index.js';
import { startTestAgent } from '../support/agent.js';
import { recordsOf, startHub } from '../support/hub.js';
import { mountTmpfs } from '../support/tmpfs.js';
import { fillDisk } from './support/field-agent.js';

/** Re-checks `predicate` at every refused reconnect (the agent retries every ≤ 100 ms while cut off). */
function whileCutOff(hub: IotHubEmulator, predicate: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (!predicate()) return;
      hub.off('refused', check);
      resolve();
    };
    hub.on('refused', check);
  });
}


describe('bounded disk: quota eviction and ENOSPC on a small tmpfs', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(device: string, quotaBytes: number): Promise<{ hub: IotHubEmulator; agent: EdgeAgent; disk: string }> {
    const { hub, close } = await startHub();
    cleanups.push(close);
    const dev = await hub.registerDevice(device);
    const disk = mountTmpfs(48 * 1024 * 1024);
    cleanups.push(disk.cleanup);
    hub.faults.refuseConnections({ mode: 'server-unavailable' });
    const { agent } = await startTestAgent({
      connectionString: dev.connectionString,
      deviceId: device,
      ca: hub.caPem,
      dataDir: join(disk.path, 'agent'),
      intervalMs: 5,
      points: 20,
      forwarding: { retryInitialMs: 20, retryMaxMs: 100 },
      storage: { quotaBytes },
    });
    cleanups.push(() => agent.stop(0)); // idempotent: a no-op after the test's own stop
    return { hub, agent, disk: disk.path };
  }

  it('at the quota: evicts the oldest readings, counts them, and the cloud can tell what is lost', async () => {
    const quota = 1024 * 1024;
    const { hub, agent } = await setup('quota-gw', quota);
    await whileCutOff(hub, () => agent.stats().storage.evicted.reading > 2000);
    const held = agent.stats().storage;
    expect(held.bytes).toBeLessThanOrEqual(quota * 1.1); // within one pipeline step of the quota
    hub.faults.acceptConnections();
    await agent.stop(30_000);

    const stats = agent.stats();
    expect(stats.outboxDepth).toBe(0);
    const delivered = new Set((await recordsOf(hub, 'quota-gw')).map((r) => r.seq));
    const evicted = stats.storage.evicted.reading;
    expect(delivered.size + evicted).toBe(stats.nextSeq - 1);
    // The evicted seqs are exactly the ones missing, oldest first, and the agent names them.
    const missing: number[] = [];
    for (let seq = 1; seq < stats.nextSeq; seq++) if (!delivered.has(seq)) missing.push(seq);
    const ranges = stats.storage.evictedRanges.flatMap((r) => Array.from({ length: r.toSeq - r.fromSeq + 1 }, (_, i) => r.fromSeq + i));
    expect(ranges).toEqual(missing);
    // Oldest first (skipping only records in messages already on their way, which are never
    // evicted): what went is one or a few contiguous runs, not a scatter.
    expect(stats.storage.evictedRanges.length).toBeLessThanOrEqual(3);
  });

  it('ENOSPC: no crash, readings refused and counted while full, accepted again when space returns', async () => {
    const { hub, agent, disk } = await setup('enospc-gw', 1024 * 1024 * 1024);
    await whileCutOff(hub, () => agent.stats().readings > 1000);
    const filler = fillDisk(disk);
    await whileCutOff(hub, () => agent.stats().alarms.some((a) => a.code === 'EDGE_DISK_FULL'));
    const full = agent.stats();
    const refusedBefore = full.drivers.synthetic!.sources['sim-1']!.errors;
    await whileCutOff(hub, () => agent.stats().drivers.synthetic!.sources['sim-1']!.errors > refusedBefore + 5);

    unlinkSync(filler);
    const acceptedWhenFull = agent.stats().readings;
    await whileCutOff(hub, () => agent.stats().alarms.length === 0 && agent.stats().readings > acceptedWhenFull + 500);

    hub.faults.acceptConnections();
    await agent.stop(30_000);
    const stats = agent.stats();
    expect(stats.outboxDepth).toBe(0);
    const delivered = new Set((await recordsOf(hub, 'enospc-gw')).map((r) => r.seq));
    // Everything the agent accepted reached the hub: a full disk refused, it never lost.
    expect(delivered.size).toBe(stats.readings);
    expect(stats.storage.evicted.reading).toBe(0);
  });
});
