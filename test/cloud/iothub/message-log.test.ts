import { afterEach, describe, expect, it } from 'vitest';
import { appendFile, readFile, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { ManualClock } from '../../../agent/core/clock.js';
import { MessageLog, openMessageLogReader, partitionFor } from '../../../cloud/iothub/index.js';
import { messageLogDir, partitionFileName } from '../../../cloud/iothub/message-log.js';
import { encodeRecord } from '../../../cloud/iothub/log-record.js';
import { tempDir } from './helpers.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function openLog(options: { partitionCount?: number; clock?: ManualClock } = {}): Promise<{ log: MessageLog; dir: string }> {
  const { dir, cleanup } = await tempDir('msglog-');
  cleanups.push(cleanup);
  const log = await MessageLog.open(dir, options);
  cleanups.push(() => log.close());
  return { log, dir };
}

const msg = (deviceId: string, body: string, properties: Record<string, string> = {}) => ({
  deviceId,
  systemProperties: { 'message-id': body },
  properties,
  body: Buffer.from(body),
});

describe('message log', () => {
  it('assigns dense sequence numbers and byte offsets per partition, in call order', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const { log } = await openLog({ clock });
    const events = await Promise.all(Array.from({ length: 50 }, (_, i) => log.append(msg('dev-a', `m${i}`, { i: String(i) }))));
    const p = partitionFor('dev-a', 4);
    expect(events.map((e) => e.sequenceNumber)).toEqual([...Array(50).keys()]);
    expect(events.every((e) => e.partition === p && e.enqueuedTime === 1_700_000_000_000)).toBe(true);
    const read = await log.read(p, 0, 100);
    expect(read.map((e) => e.offset)).toEqual(events.map((e) => e.offset));
    expect(read[7]).toEqual(events[7]);
    expect(read[7]!.systemProperties['iothub-connection-device-id']).toBe('dev-a');
    expect(await log.endOf(p)).toBe(50);
    // Concurrent appends shared fsyncs: far fewer sync rounds than messages.
    expect(log.syncRounds).toBeLessThan(10);
  });

  it('spreads devices over partitions by a stable hash', async () => {
    const { log } = await openLog({ partitionCount: 4 });
    const devices = Array.from({ length: 40 }, (_, i) => `gw-${i}`);
    await Promise.all(devices.map((d) => log.append(msg(d, d))));
    const ends = await Promise.all([0, 1, 2, 3].map((p) => log.endOf(p)));
    expect(ends.reduce((a, b) => a + b)).toBe(40);
    expect(ends.filter((n) => n > 0).length).toBeGreaterThan(1);
    expect(partitionFor('gw-1', 4)).toBe(partitionFor('gw-1', 4));
    for (const p of [0, 1, 2, 3]) for (const e of await log.read(p, 0, 100)) expect(partitionFor(e.deviceId, 4)).toBe(p);
  });

  it('survives a restart: same events, the next append continues the sequence', async () => {
    const { dir, cleanup } = await tempDir('msglog-');
    cleanups.push(cleanup);
    const first = await MessageLog.open(dir, { partitionCount: 2 });
    for (let i = 0; i < 5; i++) await first.append(msg('d', `m${i}`));
    await first.close();
    const again = await MessageLog.open(dir, { partitionCount: 8 }); // an existing log keeps its count
    cleanups.push(() => again.close());
    expect(again.partitionCount).toBe(2);
    const p = partitionFor('d', 2);
    expect((await again.read(p, 0, 10)).map((e) => e.body.toString())).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    const next = await again.append(msg('d', 'm5'));
    expect(next.sequenceNumber).toBe(5);
    expect(again.recovered).toEqual([]);
  });

  it('cuts off a torn last entry on open, and keeps every whole one', async () => {
    const { dir, cleanup } = await tempDir('msglog-');
    cleanups.push(cleanup);
    const log = await MessageLog.open(dir, { partitionCount: 1 });
    for (let i = 0; i < 3; i++) await log.append(msg('d', `m${i}`));
    await log.close();
    const file = join(messageLogDir(dir), partitionFileName(0));
    const whole = (await stat(file)).size;
    // A crash mid-write: only part of the next entry reached the disk.
    const next = encodeRecord({ sequenceNumber: 3, enqueuedTime: 0, deviceId: 'd', systemProperties: {}, properties: {}, body: Buffer.from('torn') });
    await appendFile(file, next.subarray(0, next.length - 3));

    // A reader in another process never shows the torn entry.
    const reader = await openMessageLogReader(dir);
    expect(await reader.endOf(0)).toBe(3);
    await reader.close();

    const reopened = await MessageLog.open(dir);
    cleanups.push(() => reopened.close());
    expect(reopened.recovered).toEqual([{ partition: 0, truncatedBytes: next.length - 3 }]);
    expect((await stat(file)).size).toBe(whole);
    expect(await reopened.endOf(0)).toBe(3);
    const e = await reopened.append(msg('d', 'm3'));
    expect(e).toMatchObject({ sequenceNumber: 3, offset: whole });
    expect((await reopened.read(0, 0, 10)).map((x) => x.body.toString())).toEqual(['m0', 'm1', 'm2', 'm3']);
  });

  it('treats a corrupted entry (bad CRC) as the end of the intact log', async () => {
    const { dir, cleanup } = await tempDir('msglog-');
    cleanups.push(cleanup);
    const log = await MessageLog.open(dir, { partitionCount: 1 });
    const events = [];
    for (let i = 0; i < 3; i++) events.push(await log.append(msg('d', `body-${i}`)));
    await log.close();
    const file = join(messageLogDir(dir), partitionFileName(0));
    const bytes = await readFile(file);
    bytes[events[2]!.offset + 20] ^= 0xff;
    await truncate(file, 0);
    await appendFile(file, bytes);
    const reopened = await MessageLog.open(dir);
    cleanups.push(() => reopened.close());
    expect(await reopened.endOf(0)).toBe(2);
  });

  it('is readable from another process\'s point of view while it grows (read-only reader)', async () => {
    const { log, dir } = await openLog({ partitionCount: 1 });
    await log.append(msg('d', 'a'));
    const reader = await openMessageLogReader(dir);
    cleanups.push(() => reader.close());
    expect(reader.partitionCount).toBe(1);
    expect((await reader.read(0, 0, 10)).map((e) => e.body.toString())).toEqual(['a']);
    await log.append(msg('d', 'b'));
    await log.append(msg('d', 'c'));
    expect(await reader.endOf(0)).toBe(3);
    expect(await reader.read(0, 1, 10)).toEqual(await log.read(0, 1, 10));
    expect(await reader.read(0, 3, 10)).toEqual([]);
  });

  it('reports a data dir without a log clearly', async () => {
    const { dir, cleanup } = await tempDir('msglog-');
    cleanups.push(cleanup);
    await expect(openMessageLogReader(dir)).rejects.toMatchObject({ code: 'EDGE_DATA_DIR_UNUSABLE', message: expect.stringContaining(dir) });
  });
});
