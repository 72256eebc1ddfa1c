import type { Clock } from '../core/clock.js';
import { Signal, waitAny } from '../core/signal.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { isStoreFaultError } from '../store/store-fault.js';
import type { RecordKind } from '../core/wire.js';
import type { Outbox } from './outbox.js';
import type { EvictionCounts, OutboxFigures } from '../core/agent-stats.js';

export interface HousekeepingPolicy {
  /** Logical bytes the outbox (unsent + retained) may hold. */
  quotaBytes: number;
  /** Unsent records whose application time is older than this are expired; 0 = never. */
  ttlMs: number;
  /** Acknowledged records are kept this long for resend requests. */
  retentionMs: number;
}

/**
 * Eviction order when the quota is reached, and why:
 * 1. retained records (already delivered: only the resend safety net shrinks), oldest first;
 * 2. unsent raw readings, oldest first (results summarise them and are worth more per byte);
 * 3. unsent results, then events and health records, oldest first.
 * Evicted seqs are remembered so the cloud's resend request is answered "evicted".
 */
export const EVICTION_ORDER: Array<'sent' | RecordKind> = ['sent', 'reading', 'result', 'event', 'health'];
const EVICT_BATCH = 5000;
/** Evict down to this share of the quota, so eviction runs in bursts, not per record. */
const LOW_WATER = 0.9;

export class Housekeeper {
  readonly evicted: EvictionCounts = { sent: 0, reading: 0, result: 0, event: 0, health: 0 };
  readonly expired: EvictionCounts = { sent: 0, reading: 0, result: 0, event: 0, health: 0 };
  /** The outbox's figures as of the last round (the oldest unsent record needs a disk look). */
  figures: OutboxFigures = { unsent: {}, sent: { records: 0, bytes: 0 } };
  private running: Promise<void> = Promise.resolve();
  private stopped = true;
  private readonly wake = new Signal();

  constructor(
    private readonly outbox: Outbox,
    private policy: HousekeepingPolicy,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly intervalMs = 1000,
  ) {}

  setPolicy(policy: HousekeepingPolicy): void {
    this.policy = policy;
  }

  /**
   * Runs a round every `intervalMs`, and at once whenever new records push the outbox over the
   * quota, so a fast producer cannot overshoot it by more than one pipeline step.
   */
  start(): void {
    this.stopped = false;
    this.running = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake.notify();
    await this.running;
  }

  private async loop(): Promise<void> {
    let due = this.clock.now() + this.intervalMs;
    while (!this.stopped) {
      await waitAny([this.outbox.added, this.wake], { clock: this.clock, ms: Math.max(0, due - this.clock.now()) });
      if (this.stopped) break;
      if (this.clock.now() < due && this.outbox.bytes <= this.policy.quotaBytes) continue;
      try {
        await this.tick();
      } catch (err) {
        // A store fault is reported once, by the recovery; housekeeping resumes with the store.
        if (!isStoreFaultError(this.outbox.notice(err))) this.logger.error({ err: errorMessage(err) }, 'housekeeping failed');
      }
      due = this.clock.now() + this.intervalMs;
    }
  }

  /** One round: retention, TTL, the quota, then fresh figures. */
  async tick(): Promise<void> {
    await this.enforce();
    this.figures = await this.outbox.figures();
  }

  private async enforce(): Promise<void> {
    const now = this.clock.now();
    const { quotaBytes, ttlMs, retentionMs } = this.policy;
    while ((await this.outbox.pruneSent(now - retentionMs)) > 0);
    if (ttlMs > 0) {
      for (const kind of EVICTION_ORDER.slice(1) as RecordKind[]) {
        for (;;) {
          const { records } = await this.outbox.evictOldest(kind, EVICT_BATCH, { olderThanTime: now - ttlMs });
          if (records === 0) break;
          this.expired[kind] += records;
          this.logger.warn({ kind, records, ttlMs }, 'unsent records expired (older than the TTL)');
        }
      }
    }
    if (this.outbox.bytes <= quotaBytes) return;
    for (const kind of EVICTION_ORDER) {
      while (this.outbox.bytes > quotaBytes * LOW_WATER) {
        const { records } = await this.outbox.evictOldest(kind, EVICT_BATCH, { bytes: this.outbox.bytes - quotaBytes * LOW_WATER });
        if (records === 0) break;
        this.evicted[kind] += records;
        this.logger.warn({ kind, records, bytes: this.outbox.bytes, quotaBytes }, 'buffer quota reached: evicted the oldest records');
      }
    }
  }
}
