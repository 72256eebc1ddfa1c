import { gzipSync } from 'node:zlib';
import type { FilesPathStats } from '../core/agent-stats.js';
import { Backoff } from '../core/backoff.js';
import { backlogFileLines, backlogFileName } from '../core/backlog-file.js';
import type { Clock } from '../core/clock.js';
import { errorMessage, isEdgeError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { Signal, waitAny } from '../core/signal.js';
import type { TrafficMeter } from '../core/traffic-meter.js';
import { RECORD_CLASSES, type RecordClass, type RecordKind } from '../core/wire.js';
import type { Outbox, PendingRecord } from '../outbox/outbox.js';
import type { FileUploader } from '../transport/file-upload.js';

export interface BacklogFilesSettings {
  enabled: boolean;
  afterRecords: number;
  afterAgeMs: number;
  fileRecords: number;
  maxFileBytes: number;
}

export interface BacklogDrainerOptions {
  device: string;
  boot: string;
  settings: BacklogFilesSettings;
  /** Keep uploaded records for resend requests (the storage retention), as the forwarder does. */
  retain: () => boolean;
  uploader: FileUploader;
  /** Where the hub's traffic is counted, shared with the forwarder: each acknowledged file goes in its `files` path. */
  traffic?: TrafficMeter;
  clock: Clock;
  logger: Logger;
  /** How often the trigger is looked at while idle. */
  checkMs?: number;
  retryInitialMs?: number;
  retryMaxMs?: number;
  random?: () => number;
}

/**
 * IoT Hub bills a file upload as its initiation and completion messages (each ≤ 4 KB, so one unit
 * each), not by the file's size: learn.microsoft.com/azure/iot-hub/iot-hub-devguide-pricing.
 */
export const UNITS_PER_FILE = 2;

const STOP_WAIT_MS = 5000;

/**
 * Drains a long backlog as gzip files through IoT Hub file upload. Once the trigger holds (more
 * than `afterRecords` unsent, or the oldest older than `afterAgeMs`), every record unsent at that
 * moment (seqs below the outbox's upcoming seq) is reserved for files: the forwarder's reads skip
 * them, so it sends only what arrives later, live, as messages, and no range goes both ways at
 * once. Files are read from the oldest end; each holds one kind's run, and its records leave the
 * outbox (retention or delivered ranges, as for a PUBACK) only after the hub accepted the upload's
 * completion. A failed upload gives the reservation back, so the forwarder sends the backlog as
 * messages until the next attempt; no link at all is not a failure (nothing can be sent): the
 * reservation stays and the drainer looks again shortly.
 */
export class BacklogDrainer {
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly wake = new Signal();
  private backoff: Backoff;
  private readonly counters: FilesPathStats = { enabled: false, reservedBelow: 0, files: 0, records: 0, bytesUploaded: 0, unitsBilled: 0, failures: 0 };
  /** Notified after every step of the loop: a file shipped, a failure, an idle look at the trigger. */
  readonly progress = new Signal();
  /** The last seq shipped under the current reservation: the next read starts above it. */
  private shippedTo = 0;

  constructor(
    private readonly outbox: Outbox,
    private options: BacklogDrainerOptions,
  ) {
    this.backoff = new Backoff(options.retryInitialMs ?? 1000, options.retryMaxMs ?? 60_000, options.random);
  }

  /**
   * Looks at the trigger once and reserves the backlog if it holds: called before the forwarder
   * starts, so a backlog found at start-up is not taken as messages in the first instants.
   */
  async prime(): Promise<void> {
    const settings = this.options.settings;
    if (settings.enabled && this.outbox.reservedForFiles === 0 && !this.outbox.held && (await this.triggered(settings))) this.reserve();
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loopDone = this.loop();
  }

  /**
   * Stops after the upload in progress, waiting for it at most `STOP_WAIT_MS` (the transport may be
   * closed under it: its records stay in the outbox, unacknowledged, and go after the next start).
   * What is reserved goes back to the forwarder.
   */
  async stop(): Promise<void> {
    this.running = false;
    this.wake.notify();
    await Promise.race([this.loopDone, waitAny([], { clock: this.options.clock, ms: STOP_WAIT_MS })]);
    this.outbox.reserveForFiles(0);
  }

  update(settings: BacklogFilesSettings): void {
    this.options = { ...this.options, settings };
    this.wake.notify();
  }

  stats(): FilesPathStats {
    return { ...this.counters, enabled: this.options.settings.enabled, reservedBelow: this.outbox.reservedForFiles };
  }

  private async loop(): Promise<void> {
    const { clock, logger } = this.options;
    const checkMs = this.options.checkMs ?? 1000;
    while (this.running) {
      this.progress.notify();
      const settings = this.options.settings;
      try {
        if (!settings.enabled || this.outbox.held) {
          this.release();
          await waitAny([this.wake], { clock, ms: checkMs });
          continue;
        }
        if (this.outbox.reservedForFiles === 0) {
          if (!(await this.triggered(settings))) {
            await waitAny([this.wake], { clock, ms: checkMs });
            continue;
          }
          this.reserve();
        }
        const run = await this.outbox.readOldest(this.outbox.reservedForFiles, settings.fileRecords, settings.maxFileBytes, this.shippedTo);
        if (run.length === 0) {
          // What is left below the reservation is in messages already on their way.
          this.outbox.reserveForFiles(0);
          continue;
        }
        await this.ship(run);
        this.shippedTo = run[run.length - 1]!.seq;
        this.backoff.reset();
      } catch (err) {
        if (isEdgeError(err, 'EDGE_TRANSPORT_UNAVAILABLE')) {
          // Offline: the forwarder cannot send either, so the reservation stays — and grows to what
          // arrived meanwhile, all of it backlog — and leaves as files the moment the link is back,
          // not as messages in a backoff's gap.
          if (this.outbox.reservedForFiles > 0) this.outbox.reserveForFiles(this.outbox.upcomingSeq);
          await waitAny([this.wake], { clock, ms: checkMs });
          continue;
        }
        this.counters.failures++;
        const code = isEdgeError(err) ? err.code : 'EDGE_FILE_UPLOAD_FAILED';
        this.counters.lastError = { code, message: errorMessage(err), at: clock.now() };
        this.release();
        const delay = this.backoff.next();
        logger.warn({ code, err: errorMessage(err), delay }, 'backlog file not uploaded; the forwarder sends the backlog meanwhile');
        await waitAny([this.wake], { clock, ms: delay });
      }
    }
  }

  private reserve(): void {
    this.outbox.reserveForFiles(this.outbox.upcomingSeq);
    this.shippedTo = 0;
    this.options.logger.info({ depth: this.outbox.depth, below: this.outbox.reservedForFiles }, 'backlog leaves as files');
  }

  private release(): void {
    if (this.outbox.reservedForFiles !== 0) this.outbox.reserveForFiles(0);
  }

  private async triggered(s: BacklogFilesSettings): Promise<boolean> {
    if (this.outbox.depth > s.afterRecords) return true;
    if (this.outbox.depth === 0) return false;
    const { oldestUnsentTime } = await this.outbox.figures();
    return oldestUnsentTime !== undefined && oldestUnsentTime < this.options.clock.now() - s.afterAgeMs;
  }

  /** One file per kind in the run, oldest kind first; each kind's records leave once its file is acknowledged. */
  private async ship(run: PendingRecord[]): Promise<void> {
    const byKind = new Map<RecordKind, PendingRecord[]>();
    for (const r of run) {
      const list = byKind.get(r.kind) ?? [];
      list.push(r);
      byKind.set(r.kind, list);
    }
    const seqs = run.map((r) => r.seq);
    // Pinned so quota eviction leaves alone what may be in a file the hub is taking.
    this.outbox.pin(seqs);
    try {
      for (const [kind, records] of byKind) await this.upload(kind, records);
    } finally {
      this.outbox.unpin(seqs);
    }
  }

  private async upload(kind: RecordKind, records: PendingRecord[]): Promise<void> {
    const { device, boot, uploader, clock } = this.options;
    const first = records[0]!.seq;
    const last = records[records.length - 1]!.seq;
    const body = gzipSync(backlogFileLines(device, boot, records.map((r) => r.json)).join('\n') + '\n');
    await uploader.upload(backlogFileName(kind, first, last), body);
    this.counters.files++;
    this.counters.records += records.length;
    this.counters.bytesUploaded += body.length;
    this.counters.unitsBilled += UNITS_PER_FILE;
    this.meter(records, body.length);
    // A crash before this line sends the range again (a message or another file): the cloud dedups by seq.
    await this.outbox.markSent(records.map(({ seq, kind: k }) => ({ seq, kind: k })), clock.now(), this.options.retain());
  }

  /**
   * One acknowledged file in the traffic meter's `files` path. A file holds one kind, and a query's
   * own priority may put records of two classes in it: the file (its send, gzip bytes and billed
   * units) counts under the class most of its records have (the higher class on a tie), the other
   * classes' records under theirs, so the classes add up to the files, records and bytes the hub took.
   */
  private meter(records: PendingRecord[], bytes: number): void {
    const { traffic, clock } = this.options;
    if (!traffic) return;
    const per = new Map<RecordClass, number>();
    for (const r of records) per.set(r.cls, (per.get(r.cls) ?? 0) + 1);
    const owner = RECORD_CLASSES.filter((c) => per.has(c)).reduce((a, b) => (per.get(b)! > per.get(a)! ? b : a));
    const at = clock.now();
    for (const cls of RECORD_CLASSES) {
      const n = per.get(cls);
      if (n === undefined) continue;
      traffic.add('files', cls, cls === owner ? { records: n, bytes, units: UNITS_PER_FILE } : { records: n, bytes: 0, units: 0, sends: 0 }, at);
    }
  }
}
