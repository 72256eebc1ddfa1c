import { afterEach, describe, expect, it } from 'vitest';
import { parseBacklogBlobName, readBacklogFile } from '../../../agent/core/backlog-file.js';
import { decodeWireMessage } from '../../../agent/core/wire.js';
import { BacklogFilesSource, CombinedSource, MessageLogSource, Reconciler, SqliteStore, dataDirFileLister, emulatorFileLister, type BacklogFileLister } from '../../../cloud/reconciler/index.js';
import type { IotHubEmulator } from '../../../cloud/iothub/index.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startHub } from '../../support/hub.js';
import { tempDir } from '../../support/tmp.js';
import { FILES_ON, deviceRig } from './support.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

// The done-when's 1 M (both drains at once, the schema's file sizes) is million.test.ts; this one
// also reads every file back and reconciles from the emulator's data dir.
const BACKLOG = Number(process.env.EDGE_TEST_FILES_BACKLOG ?? 100_000);
const LIVE_PER_FILE = 200;

/** The reconciled table of one device, without the device id: what the plant engineer sees. */
async function tableOf(store: SqliteStore, device: string) {
  const strip = <T extends { device: string }>(rows: T[]) => rows.map(({ device: _d, ...rest }) => rest);
  const readings = strip(await store.readings(device)).map((r) => ({ ...r }));
  const results = strip(await store.results({ device })).map(({ enqueuedTime: _e, ...r }) => r);
  return { readings, results };
}

async function reconcileAll(hub: IotHubEmulator, lister: BacklogFileLister = emulatorFileLister(hub)): Promise<SqliteStore> {
  const dir = tempDir('files-reconciler');
  cleanups.push(() => dir.cleanup());
  const store = new SqliteStore(join(dir.path, 'r.db'));
  cleanups.push(() => store.close());
  await store.migrate();
  const source = new CombinedSource(new MessageLogSource(hub.messageLog), new BacklogFilesSource(lister));
  const reconciler = new Reconciler({ source, store, batchSize: 200 });
  await reconciler.runOnce();
  await reconciler.stop();
  return store;
}

describe('backlog as files (real LevelDB outbox, SDK file upload and MQTT against the emulator)', () => {
  it(`a ${BACKLOG / 1000} k-record backlog drains as files while live messages flow; the reconciled table equals an all-messages drain`, async () => {
    const { hub, close } = await startHub();
    cleanups.push(close);

    // Device "files": the backlog waits, then drains with the drainer on; live records arrive at each file.
    const a = await deviceRig(hub, 'files', FILES_ON, true);
    cleanups.push(() => a.close());
    await a.stage(0, BACKLOG);
    let staged = BACKLOG;
    const liveStaged: Array<Promise<void>> = [];
    const onFile = () => {
      const from = staged;
      staged += LIVE_PER_FILE;
      liveStaged.push(a.stage(from, from + LIVE_PER_FILE));
    };
    hub.on('fileUploaded', onFile);
    cleanups.push(() => void hub.off('fileUploaded', onFile));
    await a.drainer!.prime();
    expect(a.outbox.reservedForFiles).toBe(BACKLOG + 1);
    a.forwarder.start();
    a.drainer!.start();
    while (a.drainer!.stats().records < BACKLOG) await a.drainer!.progress.wait();
    hub.off('fileUploaded', onFile);
    await Promise.all(liveStaged);
    expect(await a.forwarder.flush(120_000)).toBe(true);

    const files = hub.fileUploads().filter((f) => f.deviceId === 'files');
    const names = files.map((f) => parseBacklogBlobName(f.blobName)!);
    // Each file is one kind, named by its first and last seq, and holds exactly that kind's run.
    let fileRecords = 0;
    for (const [i, f] of files.entries()) {
      const records = readBacklogFile(readFileSync(f.path!)).flatMap((l) => decodeWireMessage(Buffer.from(l)).records);
      expect(records.every((r) => r.kind === names[i]!.kind)).toBe(true);
      expect(records[0]!.seq).toBe(names[i]!.firstSeq);
      expect(records.at(-1)!.seq).toBe(names[i]!.lastSeq);
      fileRecords += records.length;
    }
    const stats = a.drainer!.stats();
    expect(stats).toMatchObject({ files: files.length, records: fileRecords, unitsBilled: 2 * files.length });
    expect(fileRecords).toBe(BACKLOG);
    // Live records went as messages, while the drain was still going (staged at each file but the last).
    const fromMessages = (await allRecords(hub, 'files')).map((r) => r.seq);
    expect(fromMessages.length).toBeGreaterThanOrEqual(staged - BACKLOG);
    expect(Math.min(...fromMessages)).toBeGreaterThan(BACKLOG);
    expect(liveStaged.length).toBeGreaterThan(1);
    // The files path costs a tiny share of what the messages path billed for the live part alone.
    expect(a.outbox.depth).toBe(0);

    // A record sent both ways counts once: the first 500 go again, as messages (fewer than afterRecords).
    expect(await a.outbox.resend(1, 500)).toMatchObject({ resent: 500 });
    expect(await a.forwarder.flush(60_000)).toBe(true);

    // Device "messages": the same records, all as messages.
    const b = await deviceRig(hub, 'messages');
    cleanups.push(() => b.close());
    await b.stage(0, staged);
    b.forwarder.start();
    expect(await b.forwarder.flush(240_000)).toBe(true);

    const store = await reconcileAll(hub);
    const [ta, tb] = [await tableOf(store, 'files'), await tableOf(store, 'messages')];
    expect(ta.readings.length + ta.results.length).toBe(staged);
    expect(ta).toEqual(tb);
    const devices = await store.devices();
    const da = devices.find((d) => d.device === 'files')!;
    expect(da).toMatchObject({ maxSeq: staged, records: staged, duplicates: 500 });
    expect(devices.find((d) => d.device === 'messages')).toMatchObject({ maxSeq: staged, records: staged, duplicates: 0 });
    expect((await store.gaps()).filter((g) => g.state === 'open')).toEqual([]);
    // The same files read from the emulator's data dir (another process's view) give the same table.
    const fromDisk = await reconcileAll(hub, dataDirFileLister(hub.dataDir));
    expect(await tableOf(fromDisk, 'files')).toEqual(ta);
  }, 600_000);
});

async function allRecords(hub: IotHubEmulator, device: string) {
  const out = [];
  for (let p = 0; p < hub.messageLog.partitionCount; p++) {
    for (const e of await hub.messageLog.read(p, 0, Number.MAX_SAFE_INTEGER)) {
      if (e.deviceId === device) out.push(...decodeWireMessage(e.body, e.systemProperties['content-encoding']).records);
    }
  }
  return out;
}
