import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { untilTelemetry, recordsOf } from '../support/hub.js';
import { mountTmpfs } from '../support/tmpfs.js';
import { fieldSite, fillDisk, hubLedger, untilStatus } from './support/field-agent.js';

/**
 * The real `edge-agent run` with its data dir on a small tmpfs that is filled from outside while
 * it runs, with the hub up and with the hub down. While full: readings are refused, sending is held
 * (a message the hub acknowledged is marked sent later, never sent again), status says unhealthy
 * with the reason, and the log says so once. When space returns the agent heals by itself: the
 * alarm clears, collection and sending resume, and every accepted reading reaches the hub.
 */
describe('a full disk never wedges the gateway', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it.each([
    { name: 'hub up', deviceId: 'full-up', hubUp: true },
    { name: 'hub down', deviceId: 'full-down', hubUp: false },
  ])('$name: held while full, healed by itself when space returns, nothing accepted is missing', { timeout: 240_000 }, async ({ deviceId, hubUp }) => {
    const disk = mountTmpfs(48 * 1024 * 1024);
    cleanups.push(disk.cleanup);
    const site = await fieldSite(deviceId, cleanups, { points: 20, intervalMs: 10, dataDir: join(disk.path, 'agent') });
    const { hub } = site;
    if (!hubUp) hub.faults.refuseConnections({ mode: 'server-unavailable' });
    const run = await site.run();
    if (hubUp) await untilTelemetry(hub, async () => (await recordsOf(hub, deviceId)).length >= 2000);
    else await untilStatus(run, (s) => s.readings >= 2000, 60_000, '2,000 readings');

    const filler = fillDisk(disk.path);
    await run.untilLog(/the disk is full/);
    const full = await untilStatus(run, (s) => s.alarms.some((a) => a.code === 'EDGE_DISK_FULL'), 30_000, 'the disk-full alarm');
    expect(full.health).toMatchObject({ healthy: false, reason: expect.stringMatching(/disk .* full/) });
    // Time passes while full: the driver is refused again and again, and the hub (when up) keeps acking.
    const refusedAt = full.drivers.sim!.sources['line-1']!.errors;
    await untilStatus(run, (s) => s.drivers.sim!.sources['line-1']!.errors >= refusedAt + 20, 60_000, '20 more refused polls');
    const acceptedWhileFull = (await run.status()).readings;

    unlinkSync(filler);
    await run.untilLog(/disk space is back/);
    await untilStatus(run, (s) => s.alarms.length === 0 && s.readings >= acceptedWhileFull + 1000, 60_000, 'alarm cleared and 1,000 more readings');
    if (!hubUp) hub.faults.acceptConnections();
    await untilStatus(run, (s) => s.buffer.unsentRecords < 500, 90_000, 'the backlog sent');
    expect(run.child.exitCode).toBeNull(); // healed in the same process

    const end = await run.stop();
    expect(end.code, end.stderr).toBe(0);
    expect(end.stopped.outbox).toBe(0);
    const { bySeq, copies } = await hubLedger(hub, deviceId);
    // Pass-through: one record per accepted reading, every seq present once at least, none reused.
    expect(bySeq.size).toBe(end.stopped.readings);
    expect(end.stopped.nextSeq - 1).toBe(end.stopped.readings);
    expect([...bySeq.values()].filter((t) => t.size > 1)).toHaveLength(0);
    // At most the messages in flight when the disk filled went twice (4 × 16 KB messages).
    expect(copies).toBeLessThanOrEqual(4 * Math.ceil((16 * 1024) / 60));
    // One line per change of state, not one per attempt: the only errors logged are the store
    // announcing the full disk, once per episode (a nearly full disk may fill again after a heal).
    const lines = end.stdout.split('\n');
    const errorLines = lines.filter((l) => /"level":50/.test(l));
    const announced = errorLines.filter((l) => /"module":"store".*the disk is full/.test(l));
    const healedLines = lines.filter((l) => /disk space is back/.test(l));
    expect(errorLines.filter((l) => !announced.includes(l)), 'error lines other than the announcement').toEqual([]);
    expect(announced.length).toBeGreaterThanOrEqual(1);
    expect(announced.length).toBe(healedLines.length);
    console.log(`disk full (${hubUp ? 'hub up' : 'hub down'}): ${end.stopped.readings} readings, ${copies} duplicate records, ${errorLines.length} error lines`);
  });
});
