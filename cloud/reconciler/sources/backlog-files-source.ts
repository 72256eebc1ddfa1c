import { parseBacklogBlobName, readBacklogFile } from '../../../agent/core/backlog-file.js';
import type { ReconcilerSource, SourceBatch, SourceEvent } from '../source.js';

/** One stored backlog file, as a lister finds it. */
export interface StoredBacklogFile {
  /** As stored: `<deviceId>/backlog/<kind>/<firstSeq>-<lastSeq>.jsonl.gz`. */
  blobName: string;
  /** Epoch ms at which the file became readable; stands in for a message's enqueued time. */
  storedAt: number;
  read(): Promise<Buffer>;
}

/**
 * Lists the backlog files stored so far in a stable order: a file stored later comes after every
 * file listed before it, so a file's ordinal in the list never changes (positions rely on it).
 */
export interface BacklogFileLister {
  list(): Promise<StoredBacklogFile[]>;
}

/** Lines of one file addressed within a position: `ordinal × LINE_SPAN + line`. */
const LINE_SPAN = 2 ** 20;
const PARTITION = 'files';

export interface BacklogFilesSourceOptions {
  /** Checkpoint namespace (default `backlog-files`). */
  id?: string;
  /**
   * Whether this instance reads the files now (default: always). Instances sharing one store all
   * list the same container; one reads its single partition, e.g. the owner of Event Hubs partition
   * 0, so their commits do not keep refusing each other's checkpoint (EDGE_STORE_LOCKED).
   */
  readWhile?: () => Promise<boolean>;
}

/**
 * The backlog files devices uploaded through IoT Hub file upload, as a `ReconcilerSource`: one
 * partition, one event per line (each line is a wire message), so the reconciler decodes and
 * dedups them by `(device, seq)` exactly as it does messages. A position names a file by its
 * ordinal in the lister's order and a line within it.
 */
export class BacklogFilesSource implements ReconcilerSource {
  readonly id: string;
  private cached: { blobName: string; lines: string[] } | undefined;
  private readonly readWhile: (() => Promise<boolean>) | undefined;

  constructor(
    private readonly lister: BacklogFileLister,
    options: BacklogFilesSourceOptions = {},
  ) {
    this.id = options.id ?? 'backlog-files';
    this.readWhile = options.readWhile;
  }

  async open(): Promise<void> {
    // Positions come from the reconciler's store on every read.
  }

  async partitionIds(): Promise<string[]> {
    return !this.readWhile || (await this.readWhile()) ? [PARTITION] : [];
  }

  /** Up to `max` lines from `from` on, across files: a short batch tells the reconciler it is caught up. */
  async read(partitionId: string, from: number, max: number): Promise<SourceBatch> {
    if (partitionId !== PARTITION) throw new TypeError(`no partition ${partitionId} among backlog files`);
    const files = (await this.lister.list()).filter((f) => parseBacklogBlobName(f.blobName) !== undefined);
    const events: SourceEvent[] = [];
    let ordinal = Math.floor(from / LINE_SPAN);
    let line = from % LINE_SPAN;
    let next = from;
    while (events.length < max && ordinal < files.length) {
      const file = files[ordinal]!;
      const name = parseBacklogBlobName(file.blobName)!;
      const lines = await this.linesOf(file);
      for (; line < lines.length && events.length < max; line++) {
        events.push({
          partitionId,
          sequenceNumber: ordinal * LINE_SPAN + line,
          offset: `${file.blobName}#${line}`,
          enqueuedTime: file.storedAt,
          deviceId: name.deviceId,
          systemProperties: { 'iothub-connection-device-id': name.deviceId },
          properties: { kind: name.kind },
          body: Buffer.from(lines[line]!, 'utf8'),
        });
      }
      if (line < lines.length) {
        next = ordinal * LINE_SPAN + line;
        break;
      }
      ordinal++;
      line = 0;
      next = ordinal * LINE_SPAN;
    }
    return { partitionId, events, next, lastOffset: events.at(-1)?.offset ?? null };
  }

  async close(): Promise<void> {
    this.cached = undefined;
  }

  /** A file is read by many batches in a row: it is fetched and unzipped once. */
  private async linesOf(file: StoredBacklogFile): Promise<string[]> {
    if (this.cached?.blobName !== file.blobName) this.cached = { blobName: file.blobName, lines: readBacklogFile(await file.read()) };
    return this.cached.lines;
  }
}
