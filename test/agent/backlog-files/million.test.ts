import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { forwardingSchema } from '../../../agent/config/schema.js';
import type { FileUploader } from '../../../agent/transport/file-upload.js';
import type { HubEvent } from '../../../cloud/iothub/hub-event.js';
import { BacklogFilesSource, CombinedSource, MessageLogSource, Reconciler, SqliteStore, emulatorFileLister } from '../../../cloud/reconciler/index.js';
import { startHub } from '../../support/hub.js';
import { tempDir } from '../../support/tmp.js';
import { deviceRig, type DeviceRig } from './support.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const BACKLOG = 1_000_000;
/** Live records staged into both devices at each file the hub accepts from the files device. */
const LIVE_PER_FILE = 500;
const RESENT = 500;
/**
 * The schema's backlog-files defaults, switched on (≤ 250 k records / 32 MiB of JSON per file,
 * 100 k records to start), but for the age trigger: the records' times are of November 2026, so
 * 6 h would send every later unsent record (the live ones, the resent ones) as files too.
 */
const FILES = { ...forwardingSchema.parse({}).backlogFiles, enabled: true, afterAgeMs: 365 * 86_400_000 };

/** Resolves once `predicate` holds, looked at on each of the hub's stored messages; rejects after `ms` (real time: the SDK's). */
function onTelemetry(hub: { on(e: 'telemetry', f: (ev: HubEvent) => void): unknown; off(e: 'telemetry', f: (ev: HubEvent) => void): unknown }, predicate: () => boolean, ms: number, what: string): Promise<void> {
  if (predicate()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      clearTimeout(timer);
      hub.off('telemetry', look);
      if (err) reject(err);
      else resolve();
    };
    const look = () => {
      if (predicate()) done();
    };
    const timer = setTimeout(() => done(new Error(`not within ${ms} ms: ${what}`)), ms);
    hub.on('telemetry', look);
  });
}

/**
 * Issue #16's done-when at full size, in one run: device "files" drains a 1 M-record backlog as
 * backlog files (the schema's defaults) while live records keep arriving and leave as messages;
 * device "messages" gets the same records and drains them all as messages, at the same time. One
 * reconciler reads both (messages and files); the two devices' tables must be equal row for row.
 * Everything real: LevelDB outboxes, the SDK (MQTT and file upload), the emulator, SQLite.
 */
describe('a 1 M-record backlog as files beside an all-messages drain (real outboxes, SDK, emulator, reconciler)', () => {
  it('drains as files while live messages flow, and the reconciled table equals the all-messages drain (same rows, same seqs)', async () => {
    const timing: string[] = [];
    let mark = performance.now();
    const phase = (name: string) => {
      const now = performance.now();
      timing.push(`${name} ${((now - mark) / 1000).toFixed(1)} s`);
      mark = now;
    };
    const { hub, close } = await startHub();
    cleanups.push(close);

    // What the hub stored of each device's messages: records per message, lowest seq seen.
    const stored = { files: { records: 0, minSeq: Infinity, messages: 0 }, messages: { records: 0 } };
    const onStored = (ev: HubEvent) => {
      const count = Number(ev.properties.count);
      if (ev.deviceId === 'files') {
        stored.files.messages++;
        stored.files.records += count;
        stored.files.minSeq = Math.min(stored.files.minSeq, Number(ev.properties.seqFrom));
      } else if (ev.deviceId === 'messages') stored.messages.records += count;
    };
    hub.on('telemetry', onStored);
    cleanups.push(() => void hub.off('telemetry', onStored));

    // Each upload but the first begins only once the hub stored every live record staged so far
    // (at the files before): the proof that live messages flow while files are in progress — a
    // forwarder blocked by the drain would stop the drain here, and the test with it.
    let liveStaged = 0;
    const uploads: Array<{ liveStored: number; liveStaged: number; drained: number }> = [];
    const rig: { files?: DeviceRig } = {};
    const gated = (real: FileUploader): FileUploader => ({
      upload: async (name, data) => {
        const want = liveStaged;
        await onTelemetry(hub, () => stored.files.records >= want, 60_000, `the hub storing the ${want} live records staged before upload ${uploads.length + 1}`);
        uploads.push({ liveStored: stored.files.records, liveStaged: want, drained: rig.files!.drainer!.stats().records });
        return real.upload(name, data);
      },
    });
    const a = await deviceRig(hub, 'files', FILES, true, gated);
    rig.files = a;
    cleanups.push(() => a.close());
    const b = await deviceRig(hub, 'messages');
    cleanups.push(() => b.close());
    await Promise.all([a.stage(0, BACKLOG), b.stage(0, BACKLOG)]);
    phase('staged 2 × 1 M');

    // Live data: at each file the hub accepts, the next records arrive on both devices alike (same seqs).
    let next = BACKLOG;
    const staging: Array<Promise<void>> = [];
    const onFile = (record: { deviceId: string }) => {
      if (record.deviceId !== 'files') return;
      const from = next;
      next += LIVE_PER_FILE;
      staging.push(a.stage(from, next), b.stage(from, next));
      liveStaged += LIVE_PER_FILE;
    };
    hub.on('fileUploaded', onFile);
    cleanups.push(() => void hub.off('fileUploaded', onFile));

    await a.drainer!.prime();
    expect(a.outbox.reservedForFiles).toBe(BACKLOG + 1);
    a.forwarder.start();
    a.drainer!.start();
    b.forwarder.start();
    for (const deadline = performance.now() + 240_000; a.drainer!.stats().records < BACKLOG; ) {
      if (performance.now() > deadline) throw new Error(`the file drain did not finish: ${JSON.stringify(a.drainer!.stats())}`);
      await a.drainer!.progress.wait();
    }
    hub.off('fileUploaded', onFile);
    phase('files drained');
    await Promise.all(staging);
    expect(await a.forwarder.flush(60_000)).toBe(true);
    const drain = a.drainer!.stats();
    expect(drain).toMatchObject({ records: BACKLOG, failures: 0, unitsBilled: 2 * drain.files });
    expect(hub.fileUploads().filter((f) => f.deviceId === 'files')).toHaveLength(drain.files);
    expect(uploads).toHaveLength(drain.files);
    // Several files, and before each one after the first: live records staged during the drain,
    // all stored by the hub, with backlog still to go.
    expect(drain.files).toBeGreaterThanOrEqual(4);
    for (const [i, u] of uploads.entries()) {
      expect(u.liveStaged).toBe(i * LIVE_PER_FILE);
      expect(u.liveStored).toBeGreaterThanOrEqual(u.liveStaged);
      expect(u.drained).toBeLessThan(BACKLOG);
    }
    // Only live records went as messages: the backlog left as files alone.
    expect(stored.files.minSeq).toBeGreaterThan(BACKLOG);
    expect(stored.files.records).toBe(next - BACKLOG);
    expect(a.outbox.depth).toBe(0);

    // A record sent both ways counts once: the oldest go again, as messages (fewer than afterRecords).
    expect(await a.outbox.resend(1, RESENT)).toMatchObject({ resent: RESENT });
    expect(await a.forwarder.flush(60_000)).toBe(true);
    expect(stored.files.minSeq).toBe(1);
    expect(stored.files.records).toBe(next - BACKLOG + RESENT);
    expect(a.drainer!.stats().files).toBe(drain.files);
    expect(await b.forwarder.flush(300_000)).toBe(true);
    expect(stored.messages.records).toBe(next);
    phase('messages drained');

    const dir = tempDir('million-reconciler');
    cleanups.push(() => dir.cleanup());
    const path = join(dir.path, 'r.db');
    const store = new SqliteStore(path);
    cleanups.push(() => store.close());
    await store.migrate();
    const reconciler = new Reconciler({ source: new CombinedSource(new MessageLogSource(hub.messageLog), new BacklogFilesSource(emulatorFileLister(hub))), store, batchSize: 200 });
    await reconciler.runOnce();
    await reconciler.stop();
    phase('reconciled');

    const devices = await store.devices();
    expect(devices.find((d) => d.device === 'files')).toMatchObject({ maxSeq: next, records: next, duplicates: RESENT });
    expect(devices.find((d) => d.device === 'messages')).toMatchObject({ maxSeq: next, records: next, duplicates: 0 });
    expect((await store.gaps()).filter((g) => g.state === 'open')).toEqual([]);
    // The tables, compared in SQL (2 M rows would take minutes through toEqual): every column but
    // the device (and the results' hub arrival time), in both directions.
    const db = new Database(path, { readonly: true });
    cleanups.push(() => void db.close());
    const tables = { readings: 'seq, src, pt, t, at, v, q, err, u', results: 'query, out, key, ws, ws_key, we, rev, seq, row', events: 'seq, kind, t, name, data' };
    const counts: Record<string, number[]> = {};
    for (const [table, columns] of Object.entries(tables)) {
      const only = (x: string, y: string) =>
        db.prepare(`SELECT ${columns} FROM ${table} WHERE device = ? EXCEPT SELECT ${columns} FROM ${table} WHERE device = ? LIMIT 5`).all(x, y);
      expect({ table, onlyFiles: only('files', 'messages'), onlyMessages: only('messages', 'files') }).toEqual({ table, onlyFiles: [], onlyMessages: [] });
      counts[table] = ['files', 'messages'].map((d) => (db.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE device = ?`).get(d) as { n: number }).n);
    }
    const results = Math.floor(next / 50); // draftAt: a result every 50th record
    expect(counts).toEqual({ readings: [next - results, next - results], results: [results, results], events: [0, 0] });
    phase('compared');
    console.info(`1 M backlog as files vs messages: ${timing.join(', ')}; ${drain.files} files, ${uploads.length - 1} live checkpoints`);
  }, 480_000);
});
