import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseBacklogBlobName, readBacklogFile } from '../../../agent/core/backlog-file.js';
import { decodeWireMessage } from '../../../agent/core/wire.js';
import { BacklogDrainer } from '../../../agent/backlog-files/drainer.js';
import { ManualClock, systemClock, type TimerHandle } from '../../../agent/core/clock.js';
import { Signal } from '../../../agent/core/signal.js';
import { silentLogger } from '../../../agent/core/logger.js';
import { HubFileUpload } from '../../../agent/transport/file-upload.js';
import { recordsOf, startHub } from '../../support/hub.js';
import { FILES_ON, deviceRig } from './support.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('backlog files: the reservation between the drainer and the forwarder', () => {
  it('reserved records are not read for messages; the oldest run passes over records in flight and stops at the next', async () => {
    const { hub, close } = await startHub();
    cleanups.push(close);
    const a = await deviceRig(hub, 'reserve');
    cleanups.push(() => a.close());
    await a.stage(0, 100);
    a.outbox.pin([1, 2, 40]);
    a.outbox.reserveForFiles(61);
    expect((await a.outbox.read(0, 1000)).map((r) => r.seq)).toEqual(Array.from({ length: 40 }, (_, i) => 61 + i));
    const run = await a.outbox.readOldest(61, 1000, 1 << 20);
    expect(run.map((r) => r.seq)).toEqual(Array.from({ length: 37 }, (_, i) => 3 + i));
    expect((await a.outbox.readOldest(61, 10, 1 << 20)).length).toBe(10);
    // A byte cap ends the run before the record that would pass it (the first always goes).
    expect((await a.outbox.readOldest(61, 1000, run[0]!.json.length + 1)).length).toBe(1);
    expect((await a.outbox.readOldest(61, 1000, 1 << 20, 39)).map((r) => r.seq)).toEqual(Array.from({ length: 20 }, (_, i) => 41 + i));
    // Giving the reservation back puts the records in the forwarder's reach again, with a rescan.
    a.outbox.rewound.take();
    a.outbox.reserveForFiles(0);
    expect(a.outbox.rewound.take()).toBe(true);
    expect((await a.outbox.read(0, 1000)).length).toBe(100);
  });

  it('while the hub refuses file uploads the backlog goes as messages; once it takes them again, files resume; every seq arrives once', async () => {
    const { hub, close } = await startHub();
    cleanups.push(close);
    const N = 30_000;
    const a = await deviceRig(hub, 'refused', { ...FILES_ON, fileRecords: 2000 });
    cleanups.push(() => a.close());
    await a.stage(0, N);
    await a.drainer!.prime();
    expect(a.outbox.reservedForFiles).toBe(N + 1);
    // New connections and the file endpoints are refused; the MQTT link already up stays.
    hub.faults.refuseConnections({ mode: 'server-unavailable' });
    a.drainer!.start();
    while (a.drainer!.stats().failures === 0) await a.drainer!.progress.wait();
    expect(a.drainer!.stats()).toMatchObject({ files: 0, lastError: { code: 'EDGE_FILE_UPLOAD_FAILED' } });
    a.forwarder.start();
    const sentAsMessages = () => a.forwarder.stats().recordsAcked > 0;
    while (!sentAsMessages()) await a.drainer!.progress.wait();
    hub.faults.acceptConnections();
    while (a.drainer!.stats().files === 0 && a.outbox.depth > 0) await a.drainer!.progress.wait();
    expect(await a.forwarder.flush(120_000)).toBe(true);

    const viaFiles: number[] = [];
    for (const f of hub.fileUploads().filter((u) => u.deviceId === 'refused' && u.notification?.isSuccess)) {
      const name = parseBacklogBlobName(f.blobName)!;
      for (const line of readBacklogFile(readFileSync(f.path!))) viaFiles.push(...decodeWireMessage(Buffer.from(line)).records.map((r) => r.seq));
      expect(viaFiles.at(-1)).toBe(name.lastSeq);
    }
    const viaMessages = (await recordsOf(hub, 'refused')).map((r) => r.seq);
    expect(viaMessages.length).toBeGreaterThan(0);
    expect(viaFiles.length).toBeGreaterThan(0);
    expect(a.drainer!.stats().records).toBe(viaFiles.length);
    const all = [...viaFiles, ...viaMessages].sort((x, y) => x - y);
    expect(all).toEqual(Array.from({ length: N }, (_, i) => i + 1));
  });
});

/** A ManualClock that says when a timer is set, so the test advances it only once the drainer sleeps. */
class ArmedClock extends ManualClock {
  readonly armed = new Signal();
  override setTimeout(fn: () => void, ms: number): TimerHandle {
    const handle = super.setTimeout(fn, ms);
    this.armed.notify();
    return handle;
  }
}

describe('backlog files: the age trigger (ManualClock)', () => {
  it('a few old records go as files once the oldest is older than afterAgeMs, not before', async () => {
    const { hub, close } = await startHub();
    cleanups.push(close);
    const a = await deviceRig(hub, 'aged');
    cleanups.push(() => a.close());
    await a.stage(0, 120);
    const oldest = JSON.parse((await a.outbox.read(0, 1))[0]!.json) as { t: number };
    const clock = new ArmedClock(oldest.t + 30 * 60_000);
    const drainer = new BacklogDrainer(a.outbox, {
      device: 'aged',
      boot: 'boot-1',
      settings: { ...FILES_ON, afterRecords: 1_000_000, afterAgeMs: 3_600_000 },
      retain: () => false,
      uploader: new HubFileUpload({ link: a.link, deviceId: 'aged', ca: hub.caPem, timeoutMs: 60_000, clock: systemClock, logger: silentLogger }),
      clock,
      logger: silentLogger,
      checkMs: 1000,
    });
    cleanups.push(() => drainer.stop());
    drainer.start();
    // The drainer looked and went to sleep on the clock: half an hour old is below the threshold.
    await clock.armed.wait();
    expect(drainer.stats()).toMatchObject({ files: 0, reservedBelow: 0 });
    clock.advance(3_600_000);
    while (a.outbox.depth > 0) await drainer.progress.wait();
    expect(drainer.stats()).toMatchObject({ files: 2, records: 120, unitsBilled: 4 });
    expect(hub.fileUploads().map((u) => u.blobName).sort()).toEqual(['aged/backlog/reading/000000000000001-000000000000120.jsonl.gz', 'aged/backlog/result/000000000000050-000000000000100.jsonl.gz']);
  });
});
