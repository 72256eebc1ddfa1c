import { join } from 'node:path';
import { Level } from 'level';
import { systemClock } from '../../agent/core/clock.js';
import type { StampedReading } from '../../agent/core/reading.js';
import { meterUnits } from '../../agent/forwarder/packer.js';
import { Journal } from '../../agent/journal/journal.js';
import { encodeChecked, positionKey } from '../../agent/store/checksum.js';
import { AgentStore } from '../../agent/store/store.js';
import { readingRecord } from '../../agent/pipeline/reading-records.js';
import { IotHubEmulator, type HubEvent } from '../../cloud/iothub/index.js';
import { startTestAgent } from '../../test/support/agent.js';
import { untilTelemetry } from '../../test/support/hub.js';
import { tempDir } from '../../test/support/tmp.js';
import type { BenchRow, BenchSuite } from './harness.js';

function reading(i: number): StampedReading {
  const t = 1_700_000_000_000 + i;
  return { source: `dev-${i % 10}`, point: `p${i % 20}`, value: 20 + (i % 100) / 10, quality: 'good', unit: 'degC', receivedAt: t, appTime: t, arrivalTime: t + 3 };
}

/** Durable ingest through the journal (8 drivers appending 10 readings at a time, fsync per group commit). */
async function journalIngest(seconds: number): Promise<number> {
  const dir = tempDir('bench-journal');
  const store = await AgentStore.open(dir.path);
  const journal = new Journal(store, { sync: 'commit' });
  await journal.init(0);
  let n = 0;
  const deadline = performance.now() + seconds * 1000;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (performance.now() < deadline) {
        const batch = Array.from({ length: 10 }, () => reading(n++));
        await journal.append(batch);
      }
    }),
  );
  const rate = (n * 1000) / (performance.now() - start);
  await store.close();
  dir.cleanup();
  return rate;
}

/**
 * The same records written with raw classic-level, fsynced: `writers` concurrent writers each
 * putting batches of `batch` records (no group commit, each batch its own sync write).
 */
async function rawLevelIngest(seconds: number, writers: number, batch: number): Promise<number> {
  const dir = tempDir('bench-level');
  const db = new Level<string, Buffer>(dir.path, { valueEncoding: 'buffer' });
  await db.open();
  let n = 0;
  const deadline = performance.now() + seconds * 1000;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (performance.now() < deadline) {
        const ops = Array.from({ length: batch }, () => ({ type: 'put' as const, key: positionKey(n), value: encodeChecked(reading(n++)) }));
        await db.batch(ops, { sync: true });
      }
    }),
  );
  const rate = (n * 1000) / (performance.now() - start);
  await db.close();
  dir.cleanup();
  return rate;
}

/** End to end through the real SDK into the emulator: readings/s and billed units per 1,000 readings. */
async function forwardThroughHub(readings: number): Promise<{ rate: number; unitsPer1000: number; perReadingUnits: number }> {
  const hubDir = tempDir('bench-hub');
  const hub = await IotHubEmulator.start({ dataDir: hubDir.path });
  const dev = await hub.registerDevice('bench-gw');
  const dataDir = tempDir('bench-agent');
  // Fill the journal first (agent not running), then measure the drain into the hub.
  const store = await AgentStore.open(join(dataDir.path, 'buffer')); // the agent's buffer layout
  const journal = new Journal(store, { sync: 'interval' }) // never started: prefill without fsync;
  await journal.init(0);
  for (let i = 0; i < readings; i += 1000) await journal.append(Array.from({ length: 1000 }, (_, k) => reading(i + k)));
  await store.close();

  let stored = 0;
  const countStored = (e: HubEvent) => (stored += Number(e.properties.count));
  hub.on('telemetry', countStored);
  const start = performance.now();
  const { agent } = await startTestAgent({
    connectionString: dev.connectionString,
    deviceId: 'bench-gw',
    ca: hub.caPem,
    dataDir: dataDir.path,
    intervalMs: 3_600_000,
    points: 1,
    clock: systemClock,
    forwarding: { maxMessageBytes: 256 * 1024, maxInFlight: 8, lingerMs: 0 },
  });
  await untilTelemetry(hub, () => stored >= readings);
  const rate = (readings * 1000) / (performance.now() - start);
  await agent.drain(10_000);
  const stats = agent.stats();
  await agent.stop(0);
  hub.off('telemetry', countStored);
  await hub.stop();
  hubDir.cleanup();
  dataDir.cleanup();
  const oneRecordBytes = JSON.stringify({ v: 1, device: 'bench-gw', boot: 'x'.repeat(36), records: [{ seq: 1, ...readingRecord(reading(1)) }] }).length;
  return {
    rate,
    unitsPer1000: (stats.forwarder.unitsBilled * 1000) / stats.forwarder.recordsAcked,
    perReadingUnits: 1000 * meterUnits(oneRecordBytes),
  };
}

export const suite: BenchSuite = {
  name: 'spine',
  async run(log) {
    const rows: BenchRow[] = [];
    log('durable ingest (journal, group commit + fsync) vs raw classic-level batches');
    const rawSame = await rawLevelIngest(3, 8, 10);
    const rawBig = await rawLevelIngest(3, 1, 1000);
    const ours = await journalIngest(3);
    rows.push({ name: 'durable ingest, 8 writers × 10 readings, fsync', value: ours, unit: 'readings/s', baseline: { name: 'raw classic-level, same 8 × 10, each synced', value: rawSame } });
    rows.push({ name: 'durable ingest, 8 writers × 10 readings, fsync', value: ours, unit: 'readings/s', baseline: { name: 'raw classic-level, 1 writer × 1000, synced', value: rawBig }, note: 'upper bound of one fsynced batch stream' });
    log('forwarding 50,000 readings into the emulator through the real SDK');
    const fwd = await forwardThroughHub(50_000);
    rows.push({ name: 'drain 50 k backlog → emulator (256 KB messages)', value: fwd.rate, unit: 'readings/s', note: 'TLS MQTT on loopback, PUBACK after the hub’s fsync' });
    rows.push({
      name: 'billed 4 KB units per 1,000 readings',
      value: fwd.unitsPer1000,
      unit: 'units',
      baseline: { name: 'one message per reading', value: fwd.perReadingUnits },
      note: 'lower is better',
    });
    return rows;
  },
};
