import { systemClock, type Clock } from '../../agent/core/clock.js';
import { errorMessage } from '../../agent/core/errors.js';
import { Signal, waitAny } from '../../agent/core/signal.js';
import { silentLogger, type Logger } from '../../agent/core/logger.js';
import { markLost, openGapCount, rejectedCount } from './gaps.js';
import { BatchOutput, reconcileEvents, type ReconcileOptions, type RejectedRecord } from './reconcile.js';
import {
  DEFAULT_RESEND_POLICY,
  RESEND_METHOD,
  dueResends,
  parseResendAnswer,
  type MethodInvoker,
  type ResendAnswer,
  type ResendPolicy,
  type ResendRequest,
} from './resend.js';
import { DEFAULT_SKEW_THRESHOLD_MS } from './skew.js';
import type { ReconcilerSource } from './source.js';
import { DEFAULT_PROGRESS_INTERVAL_MS, ProgressReporter, type PartitionLag } from './progress.js';
import type { DeviceState, ReconcilerStore } from './store.js';
import { ViewCatalog } from './views.js';

export interface ReconcilerOptions {
  source: ReconcilerSource;
  store: ReconcilerStore;
  /** Direct methods to devices; without it gaps stay open and are only listed. */
  methods?: MethodInvoker;
  clock?: Clock;
  logger?: Logger;
  /** Events per source read (one transaction each). */
  batchSize?: number;
  /** The seq a device starts counting from (DESIGN §5: per-device, never goes back). */
  firstSeq?: number;
  skewThresholdMs?: number;
  resend?: Partial<ResendPolicy>;
  /** How long `start()` waits between passes once caught up. */
  pollMs?: number;
  /** Called when a pass fails inside `start()`; the loop reloads state and carries on. */
  onError?: (err: unknown) => void;
  /**
   * How long after its end a window may still be revised, per query name (or one figure for
   * all): the per-query views' `complete` flag waits for it (views.ts). Default 0.
   */
  allowedLatenessMs?: number | Readonly<Record<string, number>>;
  /** How often `catching up` is logged while behind (progress.ts). Default 10 s. */
  progressIntervalMs?: number;
}

export interface RunSummary {
  events: number;
  accepted: number;
  duplicates: number;
  /** Messages rejected whole (not decodable, or naming another device). */
  rejected: number;
  /** Malformed records inside good messages: their seqs close as `rejected`, the rest is kept. */
  rejectedRecords: number;
  resendRequests: number;
}

export interface ReconcilerCounters {
  /** Rows in the reconciled tables (results + readings + events). */
  reconciledRows: number;
  /** Gaps still waiting for the device (not yet filled or declared lost). */
  openGaps: number;
  lostRecords: number;
  /** Seqs whose record arrived malformed (rejected gaps, all devices; survives restarts). */
  rejectedRecords: number;
  devices: number;
  /** Since this process started. */
  acceptedRecords: number;
  duplicatesDropped: number;
  rejectedMessages: number;
  resendRequests: number;
  /** Source events (device messages) read and committed since this process started. */
  eventsRead: number;
  /** Partitions this instance reads now (all of them for the message log; the owned ones for Event Hubs). */
  partitionsOwned: number;
}

/**
 * Reads device messages from a source, reconciles them (reconcile.ts) and commits rows,
 * device state and the source checkpoint in one store transaction per batch. State lives in
 * memory between batches and is reloaded from the store after any failure, so memory never
 * runs ahead of what is durable.
 */
export class Reconciler {
  private readonly source: ReconcilerSource;
  private readonly store: ReconcilerStore;
  private readonly methods: MethodInvoker | undefined;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly batchSize: number;
  private readonly reconcileOptions: ReconcileOptions;
  private readonly policy: ResendPolicy;
  private readonly pollMs: number;
  private readonly onError: ((err: unknown) => void) | undefined;
  private readonly lateness: (query: string) => number;
  /** The per-query views' shapes, when the store keeps views. */
  private views: ViewCatalog | undefined;

  private devices = new Map<string, DeviceState>();
  private checkpoints = new Map<string, number>();
  private ready = false;
  /** The partition set read by the last pass (comma-joined), to notice ownership moves. */
  private owned: string | undefined;
  private ownedPartitions: string[] = [];
  private sourceOpened = false;
  private running: Promise<unknown> = Promise.resolve();
  private loop: { stopped: boolean; wake: Signal; done?: Promise<void> } | undefined;
  private readonly totals = { accepted: 0, duplicates: 0, rejected: 0, resendRequests: 0, events: 0 };
  /** Hub enqueued time of the newest event read per partition (the age of what this process has seen). */
  private readonly newestRead = new Map<string, number>();
  private readonly progress: ProgressReporter;
  /** Resend calls of the round in flight (start() mode), by device and gap start. */
  private readonly inFlight = new Set<string>();
  private round: Promise<unknown> | undefined;
  /** Device answers not yet applied to state. */
  private answers: Array<{ device: string; request: ResendRequest; answer: ResendAnswer | null; at: number }> = [];

  constructor(options: ReconcilerOptions) {
    this.source = options.source;
    this.store = options.store;
    this.methods = options.methods;
    this.clock = options.clock ?? systemClock;
    this.log = options.logger ?? silentLogger;
    this.batchSize = positiveInt(options.batchSize ?? 500, 'batchSize');
    this.reconcileOptions = {
      firstSeq: options.firstSeq ?? 1,
      skewThresholdMs: options.skewThresholdMs ?? DEFAULT_SKEW_THRESHOLD_MS,
    };
    this.policy = { ...DEFAULT_RESEND_POLICY, ...options.resend };
    nonNegativeInt(this.policy.graceMs, 'resend.graceMs');
    nonNegativeInt(this.policy.retryMs, 'resend.retryMs');
    positiveInt(this.policy.timeoutMs, 'resend.timeoutMs');
    positiveInt(this.policy.maxPerRound, 'resend.maxPerRound');
    nonNegativeInt(this.reconcileOptions.skewThresholdMs, 'skewThresholdMs');
    if (!Number.isSafeInteger(this.reconcileOptions.firstSeq)) throw new TypeError(`firstSeq must be an integer, got ${this.reconcileOptions.firstSeq}`);
    this.pollMs = positiveInt(options.pollMs ?? 1000, 'pollMs');
    this.onError = options.onError;
    const lateness = options.allowedLatenessMs ?? 0;
    this.lateness = typeof lateness === 'number' ? () => lateness : (query) => lateness[query] ?? 0;
    this.progress = new ProgressReporter(this.clock, this.log, positiveInt(options.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS, 'progressIntervalMs'));
  }

  /**
   * Per partition read now: how many events lie between the committed position and the
   * partition's end (as the source knows it), and the enqueued time of the newest event read.
   */
  async lag(): Promise<PartitionLag[]> {
    return Promise.all(
      this.ownedPartitions.map(async (partition) => {
        const end = await this.source.partitionEnd?.(partition);
        return {
          partition,
          behind: end === undefined ? null : Math.max(0, end - (this.checkpoints.get(partition) ?? 0)),
          newestEnqueuedTime: this.newestRead.get(partition) ?? null,
        };
      }),
    );
  }

  /**
   * One pass: drain every partition (a transaction per batch), then ask for due resends and
   * wait for the answers (evicted ranges are closed before it returns).
   */
  runOnce(): Promise<RunSummary> {
    return this.serialize(async () => {
      const summary = await this.pass();
      summary.resendRequests = await this.resendRound();
      await this.applyAnswers();
      return summary;
    });
  }

  /**
   * Passes until every partition of `ends` (partitionId → end sequence number) is committed up
   * to its end: `runOnce` for a push source, whose client delivers over time. Between passes
   * that found nothing it waits for `arrived` (bounded by `pollMs` on the clock).
   */
  async drainTo(ends: ReadonlyMap<string, number>, arrived: Signal): Promise<RunSummary> {
    const total: RunSummary = { events: 0, accepted: 0, duplicates: 0, rejected: 0, rejectedRecords: 0, resendRequests: 0 };
    for (;;) {
      const s = await this.runOnce();
      for (const k of Object.keys(total) as Array<keyof RunSummary>) total[k] += s[k];
      if ([...ends].every(([p, end]) => (this.checkpoints.get(p) ?? 0) >= end)) return total;
      if (s.events === 0) await waitAny([arrived], { clock: this.clock, ms: this.pollMs });
    }
  }

  /** Reporting must not fail a pass: the batch is committed already. */
  private async reportProgress(): Promise<void> {
    try {
      this.progress.behind(await this.lag(), this.totals.events, this.totals.accepted);
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'lag not known');
    }
  }

  /** Passes never overlap: a second caller waits for the first. */
  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.running.then(fn);
    this.running = run.catch(() => undefined);
    return run;
  }

  /**
   * Runs passes until `stop()`, waiting `pollMs` (on the injected clock) whenever caught up.
   * Resend calls run beside the passes, not inside them: a device that takes its full method
   * timeout to (not) answer must not hold up everyone else's data. Answers are applied at the
   * start of the next pass, which their arrival triggers.
   */
  start(): void {
    if (this.loop) return;
    const loop: NonNullable<Reconciler['loop']> = { stopped: false, wake: new Signal() };
    this.loop = loop;
    loop.done = (async () => {
      // Events were read since the last time it was caught up: say so once it is again (an
      // operator, and a test, learn that the table holds what the source held).
      let behind = false;
      while (!loop.stopped) {
        let idle = true;
        try {
          const s = await this.serialize(async () => {
            const summary = await this.pass();
            if (!this.round) {
              // Due gaps are picked and marked synchronously here, inside the pass.
              const round = this.resendRound();
              if (this.inFlight.size > 0) {
                this.round = round.finally(() => {
                  this.round = undefined;
                  loop.wake.notify();
                });
              }
            }
            return summary;
          });
          idle = s.events === 0 && this.answers.length === 0;
          if (s.events > 0) behind = true;
        } catch (err) {
          this.log.error({ err: errorMessage(err) }, 'reconciler pass failed; state reloads from the store');
          this.onError?.(err);
        }
        if (loop.stopped || !idle) continue;
        if (behind) {
          const lags = await this.lag().catch((err: unknown) => {
            this.log.warn({ err: errorMessage(err) }, 'lag not known');
            return [];
          });
          // A push source can have nothing buffered yet while the hub holds more: not caught up.
          if (!lags.some((l) => (l.behind ?? 0) > 0)) {
            behind = false;
            this.progress.caughtUp(lags, { ...this.totals });
          }
        }
        await waitAny([loop.wake], { clock: this.clock, ms: this.pollMs });
      }
    })();
  }

  /** Stops the loop after the pass in flight commits. Store and source stay open (their owner closes them). */
  async stop(): Promise<void> {
    const loop = this.loop;
    if (!loop) return;
    loop.stopped = true;
    loop.wake.notify();
    await loop.done;
    // Calls in flight end within the method timeout; their answers wait for the next run.
    await this.round;
    this.loop = undefined;
  }

  get openGaps(): number {
    let n = 0;
    for (const d of this.devices.values()) n += openGapCount(d.gaps);
    return n;
  }

  async counters(): Promise<ReconcilerCounters> {
    await this.ensureReady();
    const rows = await this.store.rowCounts();
    let lost = 0;
    let rejected = 0;
    for (const d of this.devices.values()) {
      lost += d.lostRecords;
      rejected += rejectedCount(d.gaps);
    }
    return {
      reconciledRows: rows.results + rows.readings + rows.events,
      openGaps: this.openGaps,
      lostRecords: lost,
      rejectedRecords: rejected,
      devices: this.devices.size,
      acceptedRecords: this.totals.accepted,
      duplicatesDropped: this.totals.duplicates,
      rejectedMessages: this.totals.rejected,
      resendRequests: this.totals.resendRequests,
      eventsRead: this.totals.events,
      partitionsOwned: this.ownedPartitions.length,
    };
  }

  private async ensureReady(): Promise<void> {
    if (this.ready) return;
    await this.store.migrate();
    const state = await this.store.load(this.source.id);
    this.devices = new Map(state.devices.map((d) => [d.device, d]));
    this.checkpoints = state.checkpoints;
    if (this.store.viewSpecs) this.views = new ViewCatalog(await this.store.viewSpecs());
    if (!this.sourceOpened) {
      await this.source.open(async () => {
        const { checkpoints, lastOffsets } = await this.store.loadCheckpoints(this.source.id);
        return new Map([...checkpoints].map(([p, next]) => [p, { next, lastOffset: lastOffsets.get(p) ?? null }]));
      });
      this.sourceOpened = true;
    }
    this.ready = true;
  }

  private async pass(): Promise<RunSummary> {
    const summary: RunSummary = { events: 0, accepted: 0, duplicates: 0, rejected: 0, rejectedRecords: 0, resendRequests: 0 };
    try {
      await this.ensureReady();
      const partitions = await this.source.partitionIds();
      const owned = partitions.join(',');
      if (this.owned !== undefined && owned !== this.owned) {
        // Partitions moved between instances (Event Hubs load balancing): another instance may
        // have advanced devices we now read, so start again from what the store holds.
        this.ready = false;
        await this.ensureReady();
      }
      this.owned = owned;
      this.ownedPartitions = partitions;
      await this.applyAnswers();
      // Round robin, one batch per partition per turn: a partition with a multi-day backlog
      // must not keep the others' fresh data waiting until it is drained.
      let active = partitions;
      let viewsChanged = false;
      while (active.length > 0) {
        const stillBusy: string[] = [];
        for (const partitionId of active) {
          const committed = this.checkpoints.get(partitionId);
          const from = committed ?? 0;
          const batch = await this.source.read(partitionId, from, this.batchSize);
          if (batch.events.length === 0 && batch.next === from) continue;
          const out = new BatchOutput();
          reconcileEvents(this.devices, batch.events, this.clock.now(), this.reconcileOptions, out);
          await this.store.commit({
            source: this.source.id,
            checkpoints: [{ partitionId, next: batch.next, lastOffset: batch.lastOffset, expectedNext: committed ?? null }],
            results: [...out.results.values()],
            readings: out.readings,
            events: out.events,
            devices: [...out.changed].map((d) => this.devices.get(d)!),
          });
          this.checkpoints.set(partitionId, batch.next);
          this.source.release?.(partitionId, batch.next);
          if (this.views?.observe(out.results.values())) viewsChanged = true;
          for (const r of out.rejected) this.log.warn(r, 'message rejected');
          logRejectedRecords(this.log, out.rejectedRecords);
          summary.events += batch.events.length;
          summary.accepted += out.accepted;
          summary.duplicates += out.duplicates;
          summary.rejected += out.rejected.length;
          summary.rejectedRecords += out.rejectedRecords.length;
          this.totals.accepted += out.accepted;
          this.totals.duplicates += out.duplicates;
          this.totals.rejected += out.rejected.length;
          this.totals.events += batch.events.length;
          const newest = batch.events.at(-1);
          if (newest) this.newestRead.set(partitionId, newest.enqueuedTime);
          if (this.progress.due()) await this.reportProgress();
          if (batch.events.length >= this.batchSize) stillBusy.push(partitionId);
        }
        active = stillBusy;
      }
      // After the rows: a view never names a column before a committed row has it.
      if (viewsChanged && this.views && this.store.writeViews) await this.store.writeViews(this.views.specs(), this.lateness);
    } catch (err) {
      // Memory may hold changes the store refused: start again from what is durable.
      this.ready = false;
      throw err;
    }
    return summary;
  }

  /**
   * Calls `resend` for every due gap not already being asked about, marking the gaps as
   * requested before the first await (so the caller's pass owns that change), and queues the
   * answers. Never rejects: an undelivered call is an answer of null, asked again later.
   */
  private resendRound(): Promise<number> {
    const methods = this.methods;
    if (!methods || !this.ready) return Promise.resolve(0);
    const now = this.clock.now();
    const due = dueResends(this.devices.values(), now, this.policy).filter(({ device, gap }) => !this.inFlight.has(`${device}\u0000${gap.from}`));
    if (due.length === 0) return Promise.resolve(0);
    for (const { device, gap } of due) {
      gap.requestedAt = now;
      gap.attempts += 1;
      this.inFlight.add(`${device}\u0000${gap.from}`);
    }
    this.totals.resendRequests += due.length;
    return Promise.all(
      due.map(async ({ device, gap }) => {
        const request: ResendRequest = { fromSeq: gap.from, toSeq: gap.to };
        let answer: ResendAnswer | null = null;
        try {
          const response = await methods.invoke(device, RESEND_METHOD, request, this.policy.timeoutMs);
          answer = response.status === 200 ? parseResendAnswer(response.payload) : null;
          if (!answer) this.log.warn({ device, request, status: response.status }, 'resend refused or not understood');
        } catch (err) {
          this.log.info({ device, request, err: errorMessage(err) }, 'resend not delivered; will retry');
        }
        this.answers.push({ device, request, answer, at: this.clock.now() });
        this.inFlight.delete(`${device}\u0000${gap.from}`);
      }),
    ).then(() => due.length);
  }

  /** Applies queued answers (evicted ranges → lost) and commits the devices they touched. Runs inside a pass. */
  private async applyAnswers(): Promise<void> {
    if (this.answers.length === 0) return;
    const answers = this.answers.splice(0);
    const changed = new Set<string>();
    for (const { device, request, answer, at } of answers) {
      const state = this.devices.get(device);
      if (!state) continue;
      // Even a null answer changed the gap (requestedAt, attempts): persist that too.
      changed.add(device);
      for (const r of answer?.evicted ?? []) {
        // Only what we asked for: a device cannot close gaps it was not asked about. Seqs that
        // arrived since the question are no longer in a gap, so they are not marked lost.
        const from = Math.max(r.fromSeq, request.fromSeq);
        const to = Math.min(r.toSeq, request.toSeq);
        if (from <= to) state.lostRecords += markLost(state.gaps, from, to, at);
      }
    }
    await this.store.commit({
      source: this.source.id,
      // Unchanged positions, compare-and-set: if another instance moved on meanwhile, these
      // device states are stale and must not overwrite its newer ones.
      checkpoints: [...this.checkpoints]
        .filter(([partitionId]) => this.ownedPartitions.includes(partitionId))
        .map(([partitionId, next]) => ({ partitionId, next, expectedNext: next })),
      results: [],
      readings: [],
      events: [],
      devices: [...changed].map((d) => this.devices.get(d)!),
    });
  }
}

/**
 * One warning per device and batch, not per record: a faulty agent repeats its mistake in
 * every message. The seqs are all listed in the gaps table as `rejected`.
 */
function logRejectedRecords(log: Logger, records: readonly RejectedRecord[]): void {
  const byDevice = new Map<string, RejectedRecord[]>();
  for (const r of records) {
    const list = byDevice.get(r.deviceId);
    if (list) list.push(r);
    else byDevice.set(r.deviceId, [r]);
  }
  for (const [deviceId, rs] of byDevice) {
    log.warn({ deviceId, count: rs.length, seqs: rs.slice(0, 20).map((r) => r.seq), reason: rs[0]!.reason }, 'malformed records rejected; the rest of their messages kept');
  }
}

function nonNegativeInt(v: number, name: string): number {
  if (!Number.isSafeInteger(v) || v < 0) throw new TypeError(`${name} must be a non-negative integer, got ${v}`);
  return v;
}

function positiveInt(v: number, name: string): number {
  if (!Number.isSafeInteger(v) || v < 1) throw new TypeError(`${name} must be a positive integer, got ${v}`);
  return v;
}
