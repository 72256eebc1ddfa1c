import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';
import { EdgeError, systemErrorCode } from '../../agent/core/errors.js';
import { systemClock, type Clock } from '../../agent/core/clock.js';
import type { HubEvent, MessageLogReader } from './hub-event.js';
import { encodeRecord, readRecords, scanRecords } from './log-record.js';
import { readJsonFile, syncDirectory, writeFileAtomic } from './atomic-file.js';

/**
 * The emulator's stand-in for IoT Hub's Event Hub-compatible endpoint: N append-only partition
 * files; a device always lands in the same partition, so its messages stay in order.
 *
 * Durability: `append` resolves only once the entry is written *and* fsynced (the emulator sends
 * PUBACK after that). Appends that arrive while a sync is running are written and synced
 * together in the next round (group commit), so many devices cost one fsync per round, not one
 * per message.
 */
export const DEFAULT_PARTITION_COUNT = 4;

export interface MessageLogOptions {
  partitionCount?: number;
  clock?: Clock;
}

/** What the telemetry handler hands over: the rest (sequence, offset, time) the log assigns. */
export interface TelemetryMessage {
  deviceId: string;
  systemProperties: Record<string, string>;
  properties: Record<string, string>;
  body: Buffer;
}

interface LogMeta {
  partitionCount: number;
}

export function messageLogDir(dataDir: string): string {
  return join(dataDir, 'messages');
}

export function partitionFileName(partition: number): string {
  return `partition-${partition}.log`;
}

/**
 * Stable FNV-1a hash of the device id (UTF-8), so a device keeps its partition across restarts
 * and across processes, as IoT Hub's hashing does.
 */
export function partitionFor(deviceId: string, partitionCount: number): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(deviceId, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % partitionCount;
}

export async function readLogMeta(dir: string): Promise<LogMeta | undefined> {
  const meta = await readJsonFile(join(dir, 'meta.json'));
  if (meta === undefined) return undefined;
  const count = (meta as Partial<LogMeta>).partitionCount;
  if (!Number.isSafeInteger(count) || count! < 1) {
    throw new EdgeError('EDGE_STORE_CORRUPT', `message log meta.json in ${dir} has no valid partitionCount`);
  }
  return { partitionCount: count! };
}

interface Pending {
  bytes: Buffer;
  event: HubEvent;
  resolve: (e: HubEvent) => void;
  reject: (err: unknown) => void;
}

class Partition {
  /** Start offsets of committed (synced) entries: index = sequence number. */
  readonly offsets: number[] = [];
  /** End of the last committed entry. */
  committedEnd = 0;
  /** Next sequence number and byte position to assign (runs ahead of the committed ones). */
  nextSeq = 0;
  writePos = 0;
  batch: Pending[] = [];

  constructor(
    readonly id: number,
    readonly fh: FileHandle,
  ) {}
}

export class MessageLog implements MessageLogReader {
  readonly partitionCount: number;
  private readonly partitions: Partition[];
  private readonly clock: Clock;
  private flushing = false;
  private idle: Promise<void> = Promise.resolve();
  private markIdle: () => void = () => undefined;
  private failure: EdgeError | undefined;
  private closed = false;
  /** Number of fsync rounds so far (observable for benchmarks: messages per round). */
  syncRounds = 0;
  /** Torn tails truncated while opening, per partition (what recovery did). */
  readonly recovered: Array<{ partition: number; truncatedBytes: number }> = [];

  private constructor(partitions: Partition[], partitionCount: number, clock: Clock) {
    this.partitions = partitions;
    this.partitionCount = partitionCount;
    this.clock = clock;
  }

  /**
   * Opens (creating if needed) the log under `dataDir/messages`. A torn last entry (a crash
   * mid-write) is cut off; it was never acknowledged, because acks follow the sync. An existing
   * log keeps its partition count whatever `partitionCount` says.
   */
  static async open(dataDir: string, options: MessageLogOptions = {}): Promise<MessageLog> {
    const dir = messageLogDir(dataDir);
    await mkdir(dir, { recursive: true });
    let meta = await readLogMeta(dir);
    if (!meta) {
      const partitionCount = options.partitionCount ?? DEFAULT_PARTITION_COUNT;
      if (!Number.isSafeInteger(partitionCount) || partitionCount < 1 || partitionCount > 32) {
        throw new TypeError(`partitionCount must be an integer from 1 to 32, got ${partitionCount}`);
      }
      meta = { partitionCount };
      await writeFileAtomic(join(dir, 'meta.json'), JSON.stringify(meta) + '\n');
    }
    const partitions: Partition[] = [];
    const log = new MessageLog(partitions, meta.partitionCount, options.clock ?? systemClock);
    try {
      for (let p = 0; p < meta.partitionCount; p++) {
        const fh = await open(join(dir, partitionFileName(p)), constants.O_RDWR | constants.O_CREAT, 0o600);
        const part = new Partition(p, fh);
        partitions.push(part);
        const { size } = await fh.stat();
        const scan = await scanRecords(fh, 0, size);
        if (scan.torn) {
          await fh.truncate(scan.end);
          await fh.sync();
          log.recovered.push({ partition: p, truncatedBytes: size - scan.end });
        }
        part.offsets.push(...scan.offsets);
        part.committedEnd = part.writePos = scan.end;
        part.nextSeq = scan.offsets.length;
      }
      await syncDirectory(dir);
    } catch (err) {
      await Promise.all(partitions.map((p) => p.fh.close().catch(() => undefined)));
      throw err;
    }
    return log;
  }

  /**
   * Appends one telemetry message; resolves with the stored event once it is durable. The
   * sequence number is assigned synchronously, so calls made in order are stored in order.
   */
  append(message: TelemetryMessage): Promise<HubEvent> {
    if (this.closed) return Promise.reject(new EdgeError('EDGE_TRANSPORT_UNAVAILABLE', 'message log is closed'));
    if (this.failure) return Promise.reject(this.failure);
    const part = this.partitions[partitionFor(message.deviceId, this.partitionCount)]!;
    const enqueuedTime = this.clock.now();
    const systemProperties = {
      ...message.systemProperties,
      'iothub-connection-device-id': message.deviceId,
      'iothub-enqueuedtime': new Date(enqueuedTime).toISOString(),
      'iothub-message-source': 'Telemetry',
    };
    const event: HubEvent = {
      partition: part.id,
      sequenceNumber: part.nextSeq,
      offset: part.writePos,
      enqueuedTime,
      deviceId: message.deviceId,
      systemProperties,
      properties: message.properties,
      body: message.body,
    };
    const bytes = encodeRecord(event);
    part.nextSeq += 1;
    part.writePos += bytes.length;
    return new Promise<HubEvent>((resolve, reject) => {
      part.batch.push({ bytes, event, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        this.idle = new Promise((r) => (this.markIdle = r));
        // Let the rest of this I/O turn's appends join the first round.
        setImmediate(() => void this.flushLoop());
      }
    });
  }

  private async flushLoop(): Promise<void> {
    try {
      for (;;) {
        const rounds = this.partitions.filter((p) => p.batch.length > 0).map((p) => ({ part: p, batch: p.batch }));
        if (rounds.length === 0) break;
        for (const r of rounds) r.part.batch = [];
        this.syncRounds += 1;
        await Promise.all(rounds.map((r) => this.commit(r.part, r.batch)));
      }
    } finally {
      this.flushing = false;
      this.markIdle();
    }
  }

  private async commit(part: Partition, batch: Pending[]): Promise<void> {
    if (this.failure) {
      for (const p of batch) p.reject(this.failure);
      return;
    }
    const start = batch[0]!.event.offset;
    try {
      const data = batch.length === 1 ? batch[0]!.bytes : Buffer.concat(batch.map((p) => p.bytes));
      let written = 0;
      while (written < data.length) {
        const { bytesWritten } = await part.fh.write(data, written, data.length - written, start + written);
        written += bytesWritten;
      }
      await part.fh.datasync();
    } catch (cause) {
      // The file's tail is now unknown; refuse everything after rather than leave a gap in the
      // dense sequence. A restart recovers (the torn tail is cut off).
      const code = systemErrorCode(cause);
      this.failure =
        code === 'ENOSPC'
          ? new EdgeError('EDGE_DISK_FULL', 'message log: disk full', { cause })
          : new EdgeError('EDGE_STORE_CORRUPT', `message log partition ${part.id} write failed`, { cause });
      for (const p of batch) p.reject(this.failure);
      return;
    }
    for (const p of batch) {
      part.offsets.push(p.event.offset);
      part.committedEnd = p.event.offset + p.bytes.length;
      p.resolve(p.event);
    }
  }

  async read(partition: number, fromSequenceNumber: number, max: number): Promise<HubEvent[]> {
    const part = this.partition(partition);
    const from = Math.max(0, Math.floor(fromSequenceNumber));
    const count = Math.min(Math.max(0, Math.floor(max)), part.offsets.length - from);
    if (count <= 0) return [];
    return readRecords(part.fh, partition, part.offsets, from, count, part.committedEnd);
  }

  async endOf(partition: number): Promise<number> {
    return this.partition(partition).offsets.length;
  }

  /** Total committed events over all partitions. */
  count(): number {
    return this.partitions.reduce((n, p) => n + p.offsets.length, 0);
  }

  /** Waits for in-flight appends, then closes the files. Appends after this reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.idle;
    await Promise.all(this.partitions.map((p) => p.fh.close()));
  }

  private partition(partition: number): Partition {
    const part = this.partitions[partition];
    if (!part) throw new TypeError(`partition must be 0..${this.partitionCount - 1}, got ${partition}`);
    return part;
  }
}
