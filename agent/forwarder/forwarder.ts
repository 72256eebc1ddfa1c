import type { Clock } from '../core/clock.js';
import { errorMessage, isEdgeError } from '../core/errors.js';
import { propertiesFor, RECORD_CLASSES, type RecordClass } from '../core/wire.js';
import { TrafficMeter } from '../core/traffic-meter.js';
import type { Logger } from '../core/logger.js';
import type { Transport } from '../core/transport.js';
import type { Outbox } from '../outbox/outbox.js';
import type { ForwarderStats } from '../core/agent-stats.js';
import { Signal, waitAny } from '../core/signal.js';
import { isStoreFaultError } from '../store/store-fault.js';
import type { AckedRecord, PendingRecord } from '../outbox/outbox.js';
import { Lanes } from './lanes.js';
import { Backoff } from '../core/backoff.js';
import { METER_UNIT_BYTES, meterUnits, packMessage, type PackedMessage } from './packer.js';

export interface ForwarderOptions {
  device: string;
  boot: string;
  maxMessageBytes: number;
  /** How long a live message that is not yet full may wait for more records. */
  lingerMs: number;
  /**
   * How long a live message whose body is still well under one billed 4 KB unit may wait for
   * more records (never less than `lingerMs`); default `thinLingerOf`: 10 × `lingerMs`, at most 10 s. Alarms
   * never wait; a message that fills its unit goes at once.
   */
  thinLingerMs?: number;
  /** Messages sent but not yet acknowledged, at most. */
  maxInFlight: number;
  retryInitialMs: number;
  retryMaxMs: number;
  /** Share of messages kept for draining a backlog while live data flows (0 < share ≤ 1). */
  backlogShare: number;
  /** Keep acknowledged records this long for resend requests (0: delete at once). */
  retentionMs: number;
  /** gzip message bodies (contentEncoding `gzip`); IoT Hub bills the compressed size. */
  compress: boolean;
  clock: Clock;
  logger: Logger;
  random?: () => number;
  /** Where acknowledged sends are counted; shared with other paths to the hub (backlog files). */
  traffic?: TrafficMeter;
}

/** What `update` may change while running. */
export type LiveOption = 'maxMessageBytes' | 'lingerMs' | 'thinLingerMs' | 'maxInFlight' | 'retryInitialMs' | 'retryMaxMs' | 'backlogShare' | 'retentionMs' | 'compress';
/** Every live option, each key present (an optional one may be undefined: its default): what a reconfiguration passes, so none is forgotten. */
export type LiveOptions = { [K in LiveOption]: ForwarderOptions[K] };

/** Most records read for one message; the read limit adapts below it to what a message holds. */
const READ_AHEAD = 4096;
const MIN_READ = 64;

/**
 * Without `thinLingerMs`, a message under one unit waits `THIN_LINGER_FACTOR × lingerMs`, at most
 * `THIN_LINGER_MAX_MS` unless `lingerMs` itself is longer: 10 s at the default 1 s, nothing more
 * with `lingerMs: 0` (send at once), and not 100 s for someone who set `lingerMs: 10000`.
 */
export const THIN_LINGER_FACTOR = 10;
export const THIN_LINGER_MAX_MS = 10_000;

/** How long a thin message may wait, from the options. */
export function thinLingerOf(o: Pick<ForwarderOptions, 'lingerMs' | 'thinLingerMs'>): number {
  return Math.max(o.lingerMs, o.thinLingerMs ?? Math.min(THIN_LINGER_FACTOR * o.lingerMs, THIN_LINGER_MAX_MS));
}
/**
 * A body this large fills its billed unit (the packer's own "full" mark for gzip bodies): it goes
 * at once, since waiting could only start a second unit. Below it the message is *thin*.
 */
const UNIT_FILLED_BYTES = Math.floor(METER_UNIT_BYTES * 0.9);

type Lane = 'live' | 'backlog';
interface NextMessage {
  message: PackedMessage;
  records: PendingRecord[];
  cls: RecordClass;
  lane: Lane;
  /** Per class, the newest seq in line when the choice began (see the check before sending). */
  seen: Map<RecordClass, number>;
}

/**
 * Sends outbox records to the hub, packed into messages, and removes them from the outbox only
 * once the message holding them is acknowledged (PUBACK). On any failure it lets the in-flight
 * messages settle, backs off with jitter, and starts again from the oldest unacknowledged
 * record: delivery is at-least-once, in seq order per class and lane.
 *
 * Classes go strictly by priority (alarm, result, reading): a lower class is read only when no
 * higher one has records waiting, and a message holds one class. An alarm may take one message
 * slot beyond a full window, so it never waits for a PUBACK of the backlog.
 */
export class Forwarder {
  /** Per class: live-first lanes over that class's key range. */
  private readonly lanes: Map<RecordClass, Lanes>;
  /** Records and messages in flight per class: what of `outbox.unsentIn` is not waiting. */
  private readonly flying = new Map<RecordClass, { records: number; messages: number }>();
  readonly traffic: TrafficMeter;
  /** `connectedAt` of the transport's link as last seen: a new value means it reconnected. */
  private linkSeen: number | undefined;
  private ratio = 4;
  /**
   * Records to read for the next message: what the last full one held, plus a margin. Reading
   * the most every time kept thousands of records per lane per message as garbage, and in a
   * drain that garbage (promoted out of a small young generation) doubled the heap.
   */
  private readLimit = 512;
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly settled = new Signal();
  private readonly wake = new Signal();
  private failed = false;
  /**
   * Messages the hub acknowledged while the store could not record it (full disk, damage): marked
   * sent once the store is back, never sent again meanwhile — each resend would be billed.
   */
  private unmarked: AckedRecord[][] = [];
  private holding = false;
  /** Per class, since when a live message that is not full has waited for more records. */
  private readonly lingerSince = new Map<RecordClass, number>();
  private flushing = false;
  private backoff: Backoff;
  private readonly counters: ForwarderStats = {
    messagesAcked: 0,
    recordsAcked: 0,
    bytesAcked: 0,
    unitsBilled: 0,
    sendFailures: 0,
    inFlight: 0,
    liveFrom: 1,
    traffic: { sinceStart: {}, days: [] },
  };

  constructor(
    private readonly outbox: Outbox,
    private readonly transport: Transport,
    private options: ForwarderOptions,
  ) {
    this.backoff = new Backoff(options.retryInitialMs, options.retryMaxMs, options.random);
    this.lanes = new Map(RECORD_CLASSES.map((c) => [c, new Lanes(options.backlogShare)]));
    for (const c of RECORD_CLASSES) this.flying.set(c, { records: 0, messages: 0 });
    this.traffic = options.traffic ?? new TrafficMeter();
  }

  /** Everything unsent becomes backlog in every class; what is staged from here on is live. */
  private restartLanes(): void {
    for (const l of this.lanes.values()) l.restart(this.outbox.upcomingSeq);
  }

  /** Records of `cls` waiting to be sent (not in a message on its way). */
  private waiting(cls: RecordClass): boolean {
    return this.outbox.unsentIn(cls) > this.flying.get(cls)!.records;
  }

  /** Settings that may change live (from the twin); they take effect from the next message. */
  update(next: Partial<LiveOptions>): void {
    this.options = { ...this.options, ...next };
    if (next.retryInitialMs !== undefined || next.retryMaxMs !== undefined) {
      this.backoff = new Backoff(this.options.retryInitialMs, this.options.retryMaxMs, this.options.random);
    }
    if (next.backlogShare !== undefined) for (const l of this.lanes.values()) l.setBacklogShare(next.backlogShare);
    this.wake.notify();
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.restartLanes();
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake.notify();
    await this.loopDone;
    await Promise.allSettled([...this.inFlight]);
  }

  /** Sends what is waiting without lingering; resolves when the outbox is empty or `timeoutMs` passed. */
  async flush(timeoutMs: number): Promise<boolean> {
    this.flushing = true;
    this.wake.notify();
    const { clock } = this.options;
    const deadline = clock.now() + timeoutMs;
    try {
      while (this.outbox.depth > 0 || this.inFlight.size > 0) {
        const left = deadline - clock.now();
        if (left <= 0) return false;
        await this.sleep(Math.min(left, 50), this.settled);
      }
      return true;
    } finally {
      this.flushing = false;
    }
  }

  stats(): ForwarderStats {
    return { ...this.counters, inFlight: this.inFlight.size, liveFrom: this.lanes.get('reading')!.liveFrom, traffic: this.traffic.figures() };
  }

  private async loop(): Promise<void> {
    const { logger } = this.options;
    while (this.running) {
      if (this.held || this.unmarked.length > 0) {
        // Nothing is sent that could not be marked sent afterwards: wait for the store.
        if (this.held || !(await this.markUnmarked())) {
          await waitAny([this.outbox.healed, this.wake], { clock: this.options.clock, ms: 1000 });
          continue;
        }
      }
      if (this.failed) {
        await Promise.allSettled([...this.inFlight]);
        this.failed = false;
        // Everything still unsent is backlog now; what arrives from here on is live.
        this.restartLanes();
        const delay = this.backoff.next();
        logger.debug({ delay }, 'forwarder backing off');
        await this.sleep(delay, this.wake);
        continue;
      }
      const link = this.transport.status().connectedAt;
      const relinked = link !== undefined && this.linkSeen !== undefined && link !== this.linkSeen;
      if (link !== undefined) this.linkSeen = link;
      if (this.outbox.rewound.take() || relinked) {
        // A resend put older records back, or the link came back (a transport that waits out
        // an outage instead of failing sends): what waited is backlog now, and fresh records
        // go first. Rescan once the messages in flight have settled.
        await Promise.allSettled([...this.inFlight]);
        this.restartLanes();
      }
      // While the link is down one message waits for it, not a window's worth: each holds up to
      // maxMessageBytes of body, and the backlog belongs on disk. A send that completes (the link
      // is back) wakes this loop through `settled`, and the window opens again.
      const window = this.transport.status().state === 'connected' ? this.options.maxInFlight : 1;
      let classes: readonly RecordClass[] = RECORD_CLASSES;
      if (this.inFlight.size >= window) {
        // The one slot beyond the window is the alarms': they never wait behind a backlog's PUBACKs.
        if (this.inFlight.size === window && this.flying.get('alarm')!.messages === 0 && this.waiting('alarm')) classes = ['alarm'];
        else {
          await waitAny([this.settled, this.wake, this.outbox.added]);
          continue;
        }
      }
      let next: NextMessage | undefined;
      try {
        next = await this.nextMessage(classes);
      } catch (err) {
        // A store fault is reported once, by the recovery; the loop waits for the store above.
        if (isStoreFaultError(this.outbox.notice(err))) continue;
        logger.error({ err: errorMessage(err) }, 'cannot read the outbox');
        this.failed = true;
        continue;
      }
      if (!next) continue;
      // A higher class came in while this one was read and packed: it goes first. Checked in the
      // same turn as the hand-over to the transport, so nothing committed before can be overtaken.
      const seen = next.seen;
      if (RECORD_CLASSES.slice(0, RECORD_CLASSES.indexOf(next.cls)).some((c) => this.outbox.newestIn(c) > seen.get(c)!)) continue;
      this.lanes.get(next.cls)!.sent(next.lane, next.message.seqTo);
      this.lingerSince.delete(next.cls);
      // Only seq, kind and class ride along to the PUBACK: the message body carries the data.
      this.track(this.send(next.message, next.cls, next.records.map(({ seq, kind, cls }) => ({ seq, kind, cls }))));
    }
  }

  /**
   * The next message to send, of the highest class in `classes` with records waiting, or
   * undefined after waiting for more data (or for the linger).
   *
   * How long a live message waits, by what it would cost: IoT Hub bills every message at least
   * one 4 KB unit, so a thin one (a by-exception stream, a few results) wastes most of its unit
   * and waits up to the thin linger for records that ride along for free; one that fills its unit
   * goes at once; one past a unit waits `lingerMs`, as any partial message always did.
   */
  private async nextMessage(classes: readonly RecordClass[]): Promise<NextMessage | undefined> {
    const { clock, lingerMs } = this.options;
    const thinLingerMs = thinLingerOf(this.options);
    const seen = new Map(RECORD_CLASSES.map((c) => [c, this.outbox.newestIn(c)]));
    let lingerUntil = Infinity;
    for (const cls of classes) {
      if (!this.waiting(cls)) continue;
      const read = await this.readMessage(cls);
      if (!read) continue;
      const { lane, records, message, cut } = read;
      // Alarms never linger: a few bytes saved are not worth their delay.
      if (cls === 'alarm' || lane === 'backlog' || message.full || cut || this.flushing || !this.running) return { message, records, cls, lane, seen };
      const bytes = message.body.length;
      if (bytes >= UNIT_FILLED_BYTES && bytes <= METER_UNIT_BYTES) return { message, records, cls, lane, seen };
      // Live and not full yet: wait for more records, so units are filled rather than wasted;
      // meanwhile a lower class may send (the link would otherwise idle for the linger).
      const since = this.lingerSince.get(cls) ?? clock.now();
      this.lingerSince.set(cls, since);
      const until = since + (bytes < UNIT_FILLED_BYTES ? thinLingerMs : lingerMs);
      if (until <= clock.now()) return { message, records, cls, lane, seen };
      lingerUntil = Math.min(lingerUntil, until);
    }
    if (lingerUntil === Infinity) {
      this.lingerSince.clear();
      await waitAny([this.outbox.added, this.wake]);
      return undefined;
    }
    await this.sleep(lingerUntil - clock.now(), this.outbox.added, this.wake);
    return undefined;
  }

  /**
   * Reads and packs the next message of `cls`; `cut` when all that was read fitted and more may
   * wait (it then goes as it is: a message past one unit loses at most its last unit's rest).
   */
  private async readMessage(cls: RecordClass): Promise<{ lane: Lane; records: PendingRecord[]; message: PackedMessage; cut: boolean } | undefined> {
    for (let limit = this.readLimit; ; ) {
      const found = await this.readClass(cls, limit);
      if (!found) return undefined;
      const { lane, records } = found;
      const message = this.pack(records);
      const taken = records.slice(0, message.seqs.length);
      const cut = records.length === limit && taken.length === records.length;
      // The next read takes what the last full message held plus a margin, or twice as many
      // after a cut one.
      if (message.full) this.readLimit = Math.min(READ_AHEAD, Math.max(MIN_READ, Math.ceil(taken.length * 1.25) + 16));
      else if (cut) this.readLimit = Math.min(READ_AHEAD, limit * 2);
      // Cut short of one unit (the read limit had shrunk): read more now rather than pay a
      // whole unit for a sliver of it.
      if (cut && message.body.length < UNIT_FILLED_BYTES && limit < READ_AHEAD) {
        limit = this.readLimit;
        continue;
      }
      return { lane, records: taken, message, cut };
    }
  }

  /** Reads the lane of `cls` that sends next: live first, the backlog its share. */
  private async readClass(cls: RecordClass, limit: number): Promise<{ cls: RecordClass; lane: Lane; records: PendingRecord[] } | undefined> {
    const lanes = this.lanes.get(cls)!;
    const readBacklog = async (): Promise<PendingRecord[]> => {
      const got = await this.outbox.readClass(cls, lanes.backlogCursor, limit, lanes.liveFrom);
      if (got.length === 0) lanes.backlogDrained();
      return got;
    };
    const liveWaiting = this.outbox.newestIn(cls) > lanes.liveCursor;
    if (lanes.hasBacklog && (!liveWaiting || lanes.pick() === 'backlog')) {
      const got = await readBacklog();
      if (got.length > 0) return { cls, lane: 'backlog', records: got };
    }
    if (liveWaiting) {
      const got = await this.outbox.readClass(cls, lanes.liveCursor, limit);
      if (got.length > 0) return { cls, lane: 'live', records: got };
    }
    // Live records were staged but are gone (quota eviction): the backlog goes instead.
    if (lanes.hasBacklog) {
      const got = await readBacklog();
      if (got.length > 0) return { cls, lane: 'backlog', records: got };
    }
    return undefined;
  }

  private pack(records: PendingRecord[]): PackedMessage {
    const message = packMessage(records, {
      device: this.options.device,
      boot: this.options.boot,
      maxBytes: this.options.maxMessageBytes,
      compress: this.options.compress,
      ratioHint: this.ratio,
    });
    this.ratio = message.ratio;
    return message;
  }

  private async send(message: PackedMessage, cls: RecordClass, records: AckedRecord[]): Promise<void> {
    this.outbox.pin(message.seqs);
    const flying = this.flying.get(cls)!;
    flying.records += records.length;
    flying.messages++;
    try {
      await this.deliver(message, cls, records);
    } finally {
      flying.records -= records.length;
      flying.messages--;
      this.outbox.unpin(message.seqs);
    }
  }

  private async deliver(message: PackedMessage, cls: RecordClass, records: AckedRecord[]): Promise<void> {
    const { logger, clock } = this.options;
    try {
      await this.transport.send({
        messageId: `${this.options.boot}:${message.seqFrom}-${message.seqTo}`,
        body: message.body,
        contentType: 'application/json',
        contentEncoding: message.compressed ? 'gzip' : 'utf-8',
        properties: { ...propertiesFor(message.kind, message.seqFrom, message.seqTo, message.seqs.length, cls) },
      });
    } catch (err) {
      const code = isEdgeError(err) ? err.code : 'EDGE_TRANSPORT_UNAVAILABLE';
      this.counters.sendFailures++;
      const first = this.backoff.consecutiveFailures === 0;
      this.counters.lastError = { code, message: errorMessage(err), at: clock.now() };
      // One warning per outage, not one per retry.
      if (first) logger.warn({ code, err: errorMessage(err) }, 'sending to IoT Hub failed; records stay in the outbox');
      this.failed = true;
      this.wake.notify();
      return;
    }
    this.backoff.reset();
    try {
      if (this.held) this.unmarked.push(records);
      else await this.outbox.markSent(records, clock.now(), this.options.retentionMs > 0);
    } catch (err) {
      if (!isStoreFaultError(this.outbox.notice(err))) throw err;
      this.unmarked.push(records);
    }
    // The loop may be waiting for new records: it must go and wait for the store instead.
    if (this.unmarked.length > 0) this.wake.notify();
    this.counters.messagesAcked++;
    this.counters.recordsAcked += message.seqs.length;
    this.counters.bytesAcked += message.body.length;
    this.counters.unitsBilled += meterUnits(message.body.length);
    this.traffic.add('messages', cls, { records: message.seqs.length, bytes: message.body.length, units: meterUnits(message.body.length) }, clock.now());
  }

  /** The store refuses writes, or is being healed (`hold`): nothing goes out, nothing is marked. */
  private get held(): boolean {
    return this.holding || this.outbox.held;
  }

  /**
   * Holds sending and marking while the store is healed (reopened or replaced): PUBACKs that come
   * meanwhile are kept and marked once `release` is called. Resolves at once; sends in flight go on.
   */
  hold(): void {
    this.holding = true;
  }

  release(): void {
    this.holding = false;
    this.wake.notify();
  }

  /** Marks what the hub acknowledged during a store fault; false if the store refused again. */
  private async markUnmarked(): Promise<boolean> {
    while (this.unmarked.length > 0) {
      try {
        await this.outbox.markSent(this.unmarked[0]!, this.options.clock.now(), this.options.retentionMs > 0);
      } catch (err) {
        if (isStoreFaultError(this.outbox.notice(err))) return false;
        // Not the store's fault: the records stay unsent and go once more (one duplicate each).
        this.options.logger.error({ err: errorMessage(err) }, 'cannot mark acknowledged records sent');
      }
      this.unmarked.shift();
    }
    return true;
  }

  private track(work: Promise<void>): void {
    const p = work
      .catch((err: unknown) => {
        this.options.logger.error({ err: errorMessage(err) }, 'forwarder failure');
        this.failed = true;
        this.wake.notify();
      })
      .finally(() => {
        this.inFlight.delete(p);
        this.settled.notify();
      });
    this.inFlight.add(p);
  }

  /** Waits `ms`, or less if one of `signals` fires first. */
  private sleep(ms: number, ...signals: Signal[]): Promise<void> {
    return waitAny(signals, { clock: this.options.clock, ms });
  }
}
