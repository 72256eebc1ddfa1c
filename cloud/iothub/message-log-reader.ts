import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { EdgeError, systemErrorCode } from '../../agent/core/errors.js';
import type { HubEvent, MessageLogReader } from './hub-event.js';
import { readRecords, scanRecords } from './log-record.js';
import { messageLogDir, partitionFileName, readLogMeta } from './message-log.js';

/** A read-only view of a partition file that may still be growing. */
class PartitionView {
  private fh: FileHandle | undefined;
  readonly offsets: number[] = [];
  end = 0;

  constructor(private readonly path: string) {}

  async handle(): Promise<FileHandle | undefined> {
    if (this.fh) return this.fh;
    try {
      this.fh = await open(this.path, 'r');
    } catch (err) {
      if (systemErrorCode(err) === 'ENOENT') return undefined;
      throw err;
    }
    return this.fh;
  }

  /**
   * Indexes entries appended since the last look. An incomplete entry at the end is an append
   * in progress (or a torn tail the emulator will cut on its next start): it is skipped now and
   * picked up later once whole. Nothing here ever writes.
   */
  async refresh(): Promise<FileHandle | undefined> {
    const fh = await this.handle();
    if (!fh) return undefined;
    const { size } = await fh.stat();
    if (size > this.end) {
      const scan = await scanRecords(fh, this.end, size);
      this.offsets.push(...scan.offsets);
      this.end = scan.end;
    }
    return fh;
  }

  async close(): Promise<void> {
    await this.fh?.close();
    this.fh = undefined;
  }
}

/** {@link MessageLogReader} over the files of an emulator's data dir, plus `close()`. */
export interface ClosableMessageLogReader extends MessageLogReader {
  close(): Promise<void>;
}

/**
 * Opens the message log of an emulator's data dir read-only, from any process, whether that
 * emulator is running or stopped. It may show entries a running emulator has written but not yet
 * acknowledged (the sync is a moment behind the write); it never shows a torn entry.
 *
 * @throws EdgeError EDGE_DATA_DIR_UNUSABLE when the dir holds no message log.
 */
export async function openMessageLogReader(dataDir: string): Promise<ClosableMessageLogReader> {
  const dir = messageLogDir(dataDir);
  let meta;
  try {
    meta = await readLogMeta(dir);
  } catch (cause) {
    if (cause instanceof EdgeError) throw cause;
    throw new EdgeError('EDGE_DATA_DIR_UNUSABLE', `cannot read the message log in ${dir}`, { cause });
  }
  if (!meta) throw new EdgeError('EDGE_DATA_DIR_UNUSABLE', `no message log in ${dir} (has an emulator ever run with this data dir?)`);
  const views = Array.from({ length: meta.partitionCount }, (_, p) => new PartitionView(join(dir, partitionFileName(p))));
  const view = (partition: number): PartitionView => {
    const v = views[partition];
    if (!v) throw new TypeError(`partition must be 0..${views.length - 1}, got ${partition}`);
    return v;
  };
  return {
    partitionCount: meta.partitionCount,
    async read(partition: number, fromSequenceNumber: number, max: number): Promise<HubEvent[]> {
      const v = view(partition);
      const fh = await v.refresh();
      if (!fh) return [];
      const from = Math.max(0, Math.floor(fromSequenceNumber));
      const count = Math.min(Math.max(0, Math.floor(max)), v.offsets.length - from);
      if (count <= 0) return [];
      return readRecords(fh, partition, v.offsets, from, count, v.end);
    },
    async endOf(partition: number): Promise<number> {
      const v = view(partition);
      await v.refresh();
      return v.offsets.length;
    },
    async close(): Promise<void> {
      await Promise.all(views.map((v) => v.close()));
    },
  };
}
