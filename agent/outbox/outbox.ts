import { isEdgeError } from '../core/errors.js';
import { classOf, RECORD_CLASSES, type RecordClass, type RecordKind, type WireRecord } from '../core/wire.js';
import { decodeChecked, decodeCheckedText, encodeChecked, keyPosition, positionKey } from '../store/checksum.js';
import { classRange, mergeBySeq, outboxKey, parseOutboxKey } from './class-keys.js';
import type { AgentStore, StoreOp } from '../store/store.js';
import { META } from '../store/meta-keys.js';
import type { SeqFloorView } from '../store/seq-floor.js';
import { Signal } from '../core/signal.js';
import { EvictedRanges, mergeRanges, uncovered } from './evicted-ranges.js';
import type { KindFigures, OutboxFigures, SeqRange } from '../core/agent-stats.js';

/** A record before it gets its seq. */
export type RecordDraft = WireRecord extends infer R ? (R extends WireRecord ? Omit<R, 'seq'> : never) : never;

/** An outbox record as the forwarder reads it: its JSON text is sent as stored. */
export interface PendingRecord {
  seq: number;
  kind: RecordKind;
  /** The sending class: the key range the record is stored in (see class-keys.ts). */
  cls: RecordClass;
  json: string;
  /** The stored value (checksum + JSON), moved as is when the record is acknowledged. */
  value: Buffer;
}

/** What the forwarder keeps of a record until the hub acknowledges the message holding it. */
export type AckedRecord = Pick<PendingRecord, 'seq' | 'kind'> & { cls?: RecordClass };

export interface StagedRecords {
  ops: Array<{ type: 'put'; sublevel: AgentStore['outbox'] | AgentStore['meta']; key: string; value: Buffer }>;
  /** Call after the batch holding `ops` has committed. */
  commit(): void;
}



export interface ResendResult {
  /** Records put back in line for sending. */
  resent: number;
  /** Records of the range that were still waiting to be sent anyway. */
  pending: number;
  /** Parts of the range the agent no longer has (evicted by quota or TTL, or lost to damage). */
  evicted: SeqRange[];
}

const SENT_AT_BYTES = 8;
const DELIVERED_KEY = 'deliveredRanges';

export interface OutboxContinuity {
  /** Seqs handed out before that the store no longer accounts for: lost, now reported as evicted. */
  lost: SeqRange[];
  /** The store's own counter, when it had one. */
  storedNextSeq?: number;
}

/**
 * Records waiting for the hub's acknowledgement (`outbox`), and acknowledged records kept for
 * the retention period (`sent`) so the cloud can ask for them again. Both are keyed by the
 * device's `seq`; the seq counter is stored in the same atomic batch as the records that used
 * it, so it never goes back, across crashes and restarts.
 */
export class Outbox {
  private nextSeq = 1;
  private readonly unsent = new Map<RecordKind, KindFigures>();
  private readonly unsentClass = new Map<RecordClass, number>();
  /** Per class, the highest seq ever put in line: a lane past it has nothing live to read. */
  private readonly newest = new Map<RecordClass, number>();
  private readonly sentFigures: KindFigures = { records: 0, bytes: 0 };
  /** Seqs in a message on its way to the hub: never evicted, since they may be delivered. */
  private readonly pinned = new Set<number>();
  /** Fires whenever records are added (staged or put back for a resend). */
  readonly added = new Signal();
  /** Fires when a resend put older records back in line: the forwarder rescans its backlog. */
  readonly rewound = new Signal();
  /**
   * Unsent records below this seq are reserved for the backlog-files drainer: `read` (the
   * forwarder's) never returns them, so no range goes both as messages and as a file at once.
   */
  private filesBelow = 0;
  readonly evictedRanges: EvictedRanges;
  /** Seqs acknowledged and no longer held (see EvictedRanges): what continuity needs to know. */
  private readonly delivered: EvictedRanges;

  constructor(
    private readonly store: AgentStore,
    /** Told before seqs are handed out, so a replacement store never reuses one. */
    private readonly reserve: (upTo: number) => void = () => undefined,
  ) {
    this.evictedRanges = new EvictedRanges(store);
    this.delivered = new EvictedRanges(store, DELIVERED_KEY);
  }

  /**
   * Reads the counter and the figures, and checks continuity: every seq below the next one must be
   * unsent, retained, delivered or evicted. What is none of these (a torn or garbled log, a damaged
   * table, a store replaced after damage) is lost: counted, and recorded as evicted so the cloud's
   * resend request is answered and the reconciler closes the gap. Also called again on a store
   * replaced at run time: the seq counter only ever grows.
   */
  async init(seqFloor: SeqFloorView = { floor: 1, binding: false }): Promise<OutboxContinuity> {
    const raw: Buffer | undefined = await this.store.meta.get(META.nextSeq);
    const stored = raw ? decodeChecked<number>(raw, 'outbox seq counter') : undefined;
    this.unsent.clear();
    this.unsentClass.clear();
    this.sentFigures.records = 0;
    this.sentFigures.bytes = 0;
    const held: SeqRange[] = [];
    const hold = (seq: number) => {
      const last = held[held.length - 1];
      if (last && last.toSeq === seq - 1) last.toSeq = seq;
      else held.push({ fromSeq: seq, toSeq: seq });
    };
    // A damaged record is counted as a reading here; `read` quarantines it when it gets there.
    // Keys come class by class, each class in seq order: `hold` runs within each, then all merge.
    for await (const [key, value] of this.store.outbox.iterator()) {
      const { cls, seq } = parseOutboxKey(key);
      this.tally(kindOf(checkedText(value, `outbox ${key}`) ?? ''), cls, 1, value.length);
      this.lined(cls, seq);
      hold(seq);
    }
    for await (const [key, value] of this.store.sent.iterator()) {
      this.sentFigures.records++;
      this.sentFigures.bytes += value.length;
      hold(keyPosition(key));
    }
    const lowest = held.reduce((m, r) => Math.min(m, r.fromSeq), Infinity);
    const last = held.reduce((m, r) => Math.max(m, r.toSeq), 0);
    await this.evictedRanges.init();
    // A store written before deliveries were recorded: what lies below its oldest record went.
    const baseline = raw ? (Number.isFinite(lowest) ? lowest : stored) : undefined;
    await this.delivered.init(baseline);
    const covered = mergeRanges([
      ...held,
      ...this.evictedRanges.list(),
      ...this.delivered.list(),
      { fromSeq: 1, toSeq: Math.max(this.evictedRanges.below, this.delivered.below) - 1 },
    ]);
    // Seqs once reported lost or delivered were issued, even if the counter never said so.
    const accounted = covered.length > 0 ? covered[covered.length - 1]!.toSeq : 0;
    this.nextSeq = Math.max(this.nextSeq, stored ?? 1, last + 1, accounted + 1, seqFloor.binding || !raw ? seqFloor.floor : 1);
    const lost = uncovered(1, this.nextSeq - 1, covered);
    await this.evictedRanges.addRanges(lost);
    // The counter on disk catches up at once, so the next open starts from here too.
    if (this.nextSeq !== stored) await this.store.write([{ type: 'put', sublevel: this.store.meta, key: META.nextSeq, value: encodeChecked(this.nextSeq) }], { sync: true });
    return { lost, ...(stored !== undefined ? { storedNextSeq: stored } : {}) };
  }

  /** Assigns seqs to `drafts` and returns the writes to commit atomically with the caller's own. */
  stage(drafts: RecordDraft[]): StagedRecords {
    const first = this.nextSeq;
    this.reserve(first + drafts.length);
    const classes = drafts.map((d) => classOf(d.kind, 'cls' in d ? d.cls : undefined));
    // seq, kind (and cls, when set) lead the JSON text so `kindOf`/`classOfText` need no parse.
    const values = drafts.map((draft, i) => encodeChecked(Object.assign('cls' in draft && draft.cls !== undefined ? { seq: first + i, kind: draft.kind, cls: draft.cls } : { seq: first + i, kind: draft.kind }, draft)));
    const ops: StagedRecords['ops'] = values.map((value, i) => ({
      type: 'put' as const,
      sublevel: this.store.outbox,
      key: outboxKey(classes[i]!, first + i),
      value,
    }));
    const next = first + drafts.length;
    ops.push({ type: 'put', sublevel: this.store.meta, key: META.nextSeq, value: encodeChecked(next) });
    return {
      ops,
      commit: () => {
        this.nextSeq = next;
        drafts.forEach((d, i) => {
          this.tally(d.kind, classes[i]!, 1, values[i]!.length);
          this.lined(classes[i]!, first + i);
        });
        if (drafts.length > 0) this.added.notify();
      },
    };
  }

  /** Unsent records of every class with `afterSeq < seq < beforeSeq`, in seq order; none reserved for files. */
  async read(afterSeq: number, limit: number, beforeSeq = Number.MAX_SAFE_INTEGER): Promise<PendingRecord[]> {
    const parts = await Promise.all(RECORD_CLASSES.map((cls) => this.readClass(cls, afterSeq, limit, beforeSeq)));
    return parts.flat().sort((a, b) => a.seq - b.seq).slice(0, limit);
  }

  /** Unsent records of class `cls` with `afterSeq < seq < beforeSeq`, in seq order. */
  async readClass(cls: RecordClass, afterSeq: number, limit: number, beforeSeq = Number.MAX_SAFE_INTEGER): Promise<PendingRecord[]> {
    const out: PendingRecord[] = [];
    const bad: Array<[string, Buffer]> = [];
    const after = Math.max(afterSeq, this.filesBelow - 1);
    // One native read for the lot: `for await` would cost a promise and an entry array per record.
    for (const [key, value] of await this.store.outbox.iterator({ ...classRange(cls, after, beforeSeq), limit }).all()) {
      const json = checkedText(value, `outbox ${key}`);
      if (json === undefined) bad.push([key, value]);
      else out.push({ seq: parseOutboxKey(key).seq, kind: kindOf(json), cls, json, value });
    }
    await this.quarantineBad(bad);
    // A reservation made while this read was under way holds too: checked where the caller takes over.
    return this.filesBelow > after + 1 ? out.filter((r) => r.seq >= this.filesBelow) : out;
  }

  /** Reserves unsent records below `beforeSeq` for files (see `filesBelow`); 0 ends the reservation. */
  reserveForFiles(beforeSeq: number): void {
    const released = beforeSeq < this.filesBelow;
    this.filesBelow = beforeSeq;
    if (released) {
      // The forwarder may have passed over reserved records: it rescans from the oldest.
      this.rewound.notify();
      this.added.notify();
    }
  }

  get reservedForFiles(): number {
    return this.filesBelow;
  }

  /**
   * The oldest run of unsent records below `beforeSeq`, in seq order: records in flight (pinned)
   * before the run are passed over, and one inside it ends the run, so every unsent unpinned record
   * between its first and last seq is in it. At most `limit` records and about `maxBytes` of JSON.
   * `afterSeq` lets a caller that deleted what it read skip over the deletions.
   */
  async readOldest(beforeSeq: number, limit: number, maxBytes: number, afterSeq = 0): Promise<PendingRecord[]> {
    const out: PendingRecord[] = [];
    const bad: Array<[string, Buffer]> = [];
    let bytes = 0;
    // Every class's key range, merged back into seq order: a run is contiguous in seqs whatever the class.
    const entries = mergeBySeq(RECORD_CLASSES.map((cls) => mapAsync(this.store.outbox.iterator(classRange(cls, afterSeq, beforeSeq)), ([key, value]) => ({ key, value, cls, seq: parseOutboxKey(key).seq }))));
    for await (const { key, value, cls, seq } of entries) {
      if (this.pinned.has(seq)) {
        if (out.length > 0) break;
        continue;
      }
      const json = checkedText(value, `outbox ${key}`);
      if (json === undefined) {
        bad.push([key, value]);
        continue;
      }
      if (out.length > 0 && bytes + json.length > maxBytes) break;
      out.push({ seq, kind: kindOf(json), cls, json, value });
      bytes += json.length;
      if (out.length >= limit) break;
    }
    await this.quarantineBad(bad);
    // A message read meanwhile may have pinned some: the run ends before the first of them.
    const cut = out.findIndex((r) => this.pinned.has(r.seq));
    const run = cut < 0 ? out : out.slice(0, cut);
    // The iterator reads a snapshot: a message acknowledged (deleted, then unpinned) while it ran
    // left its records in the snapshot, unpinned. Only what is still stored belongs in a file.
    const still = run.length > 0 ? await this.store.outbox.getMany(run.map((r) => outboxKey(r.cls, r.seq))) : [];
    return run.filter((_, i) => still[i] !== undefined);
  }

  private async quarantineBad(bad: Array<[string, Buffer]>): Promise<void> {
    if (bad.length > 0) {
      // A damaged record cannot be sent; the cloud learns its seq is gone through resend.
      for (const [key, value] of bad) {
        await this.store.quarantine('outbox', key, value);
        this.tally('reading', parseOutboxKey(key).cls, -1, -value.length);
      }
      await this.evictedRanges.add(bad.map(([key]) => parseOutboxKey(key).seq));
    }
  }


  /** The highest seq of class `cls` put in line since `init` (0: none). */
  newestIn(cls: RecordClass): number {
    return this.newest.get(cls) ?? 0;
  }

  /** Unsent records of class `cls` (those in flight included). */
  unsentIn(cls: RecordClass): number {
    return this.unsentClass.get(cls) ?? 0;
  }

  /**
   * The hub acknowledged these records: move them to retention (or drop them when retention
   * is off). Not fsynced: a lost move only means the record is sent once more. The stored values
   * are read back here (the presence check needs the read anyway), so a message waiting for its
   * PUBACK holds no copy of its records.
   */
  async markSent(acked: AckedRecord[], sentAt: number, retain: boolean): Promise<void> {
    // Only what is still here: quota eviction may have raced a message that was being read.
    // A caller that does not know a record's class has it looked up in every class's range.
    const candidates = acked.flatMap((r) => (r.cls ? [{ r, cls: r.cls }] : RECORD_CLASSES.map((cls) => ({ r, cls }))));
    const stored = await this.store.outbox.getMany(candidates.map((c) => outboxKey(c.cls, c.r.seq)));
    const records = candidates.flatMap((c, i) => (stored[i] === undefined ? [] : [{ ...c.r, cls: c.cls, value: stored[i] }]));
    const stamp = Buffer.alloc(SENT_AT_BYTES);
    stamp.writeDoubleBE(sentAt, 0);
    const ops: StoreOp[] = records.flatMap((r): StoreOp[] => {
      const del = { type: 'del' as const, sublevel: this.store.outbox, key: outboxKey(r.cls, r.seq) };
      return retain ? [del, { type: 'put' as const, sublevel: this.store.sent, key: positionKey(r.seq), value: Buffer.concat([stamp, r.value]) }] : [del];
    });
    if (!retain && records.length > 0) ops.push(this.delivered.stage(records.map((r) => r.seq)));
    await this.store.write(ops);
    for (const r of records) {
      this.tally(r.kind, r.cls, -1, -r.value.length);
      if (retain) {
        this.sentFigures.records++;
        this.sentFigures.bytes += SENT_AT_BYTES + r.value.length;
      }
    }
  }

  /** The store refuses writes (full disk, damage): nothing may be sent that could not be marked sent. */
  get held(): boolean {
    return this.store.fault !== undefined;
  }

  /** Fires when the store takes writes again. */
  get healed(): Signal {
    return this.store.healed;
  }

  /** Lets the store classify an error from an outbox operation (see AgentStore.notice). */
  notice(err: unknown): unknown {
    return this.store.notice(err);
  }

  /** Marks seqs as in flight (see `pinned`). */
  pin(seqs: number[]): void {
    for (const seq of seqs) this.pinned.add(seq);
  }

  unpin(seqs: number[]): void {
    for (const seq of seqs) this.pinned.delete(seq);
  }

  /** Puts retained records of `[fromSeq, toSeq]` back in line, and names what is gone. */
  async resend(fromSeq: number, toSeq: number): Promise<ResendResult> {
    const to = Math.min(toSeq, this.nextSeq - 1);
    let resent = 0;
    let pending = 0;
    const have = new Set<number>();
    const ops: Array<
      { type: 'put'; sublevel: AgentStore['outbox']; key: string; value: Buffer } | { type: 'del'; sublevel: AgentStore['sent']; key: string }
    > = [];
    if (to >= fromSeq) {
      const range = { gte: positionKey(fromSeq), lte: positionKey(to) };
      for (const cls of RECORD_CLASSES) {
        for await (const key of this.store.outbox.keys(classRange(cls, fromSeq - 1, to + 1))) {
          have.add(parseOutboxKey(key).seq);
          pending++;
        }
      }
      for await (const [key, stored] of this.store.sent.iterator(range)) {
        const value = stored.subarray(SENT_AT_BYTES);
        const json = checkedText(value, `sent ${key}`);
        if (json === undefined) continue; // damaged: answered as evicted below
        have.add(keyPosition(key));
        const cls = classOfText(json);
        ops.push({ type: 'del', sublevel: this.store.sent, key }, { type: 'put', sublevel: this.store.outbox, key: outboxKey(cls, keyPosition(key)), value });
        this.sentFigures.records--;
        this.sentFigures.bytes -= stored.length;
        this.tally(kindOf(json), cls, 1, value.length);
        this.lined(cls, keyPosition(key));
        resent++;
      }
    }
    if (ops.length > 0) await this.store.write(ops);
    if (resent > 0) {
      this.rewound.notify();
      this.added.notify();
    }
    const evicted: SeqRange[] = [];
    for (let seq = fromSeq; seq <= to; seq++) {
      if (have.has(seq)) continue;
      const last = evicted[evicted.length - 1];
      if (last && last.toSeq === seq - 1) last.toSeq = seq;
      else evicted.push({ fromSeq: seq, toSeq: seq });
    }
    return { resent, pending, evicted };
  }

  /** Deletes retained records acknowledged before `cutoff`, oldest seqs first. */
  async pruneSent(cutoff: number, max = 10_000): Promise<number> {
    const ops: StoreOp[] = [];
    const seqs: number[] = [];
    let bytes = 0;
    for await (const [key, stored] of this.store.sent.iterator({ limit: max })) {
      // Acknowledgement order follows seq order closely enough; stop at the first young one.
      if (stored.readDoubleBE(0) >= cutoff) break;
      ops.push({ type: 'del', sublevel: this.store.sent, key });
      seqs.push(keyPosition(key));
      bytes += stored.length;
    }
    if (ops.length === 0) return 0;
    ops.push(this.delivered.stage(seqs));
    await this.store.write(ops);
    this.sentFigures.records -= seqs.length;
    this.sentFigures.bytes -= bytes;
    return seqs.length;
  }

  /**
   * Removes up to `max` of the oldest unsent records of `kind` (or retained ones, for
   * `kind === 'sent'`), recording the seqs as evicted. Returns how many and how many bytes.
   */
  async evictOldest(kind: RecordKind | 'sent', max: number, limits: { olderThanTime?: number; bytes?: number } = {}): Promise<{ records: number; bytes: number }> {
    const { olderThanTime, bytes: enough = Infinity } = limits;
    const sub = kind === 'sent' ? this.store.sent : this.store.outbox;
    const victims: Array<{ seq: number; key: string; bytes: number; kind: RecordKind; cls: RecordClass }> = [];
    let freed = 0;
    const entries =
      kind === 'sent'
        ? mapAsync(sub.iterator(), ([key, stored]) => ({ key, stored, seq: keyPosition(key), cls: 'reading' as RecordClass }))
        : mergeBySeq(RECORD_CLASSES.map((cls) => mapAsync(sub.iterator(classRange(cls, 0, Number.MAX_SAFE_INTEGER)), ([key, stored]) => ({ key, stored, cls, seq: parseOutboxKey(key).seq }))));
    for await (const { key, stored, seq, cls } of entries) {
      if (victims.length >= max || freed >= enough) break;
      const value = kind === 'sent' ? stored.subarray(SENT_AT_BYTES) : stored;
      // A damaged record has no trustworthy time or kind: it is evicted as the oldest reading.
      const json = checkedText(value, `${kind === 'sent' ? 'sent' : 'outbox'} ${key}`) ?? '';
      const k = kindOf(json);
      // Seq order follows time closely: the first young record ends the search for old ones.
      if (olderThanTime !== undefined && json !== '' && timeOf(json) >= olderThanTime) break;
      if (kind !== 'sent' && (k !== kind || this.pinned.has(seq))) continue;
      victims.push({ seq, key, bytes: stored.length, kind: k, cls });
      freed += stored.length;
    }
    // Re-check at the last moment: the forwarder may have pinned some while we were reading.
    if (kind !== 'sent') victims.splice(0, victims.length, ...victims.filter((v) => !this.pinned.has(v.seq)));
    if (victims.length === 0) return { records: 0, bytes: 0 };
    const dels: StoreOp[] = victims.map((v) => ({ type: 'del' as const, sublevel: sub, key: v.key }));
    // Retained records were delivered: the set of delivered seqs keeps them accounted for.
    if (kind === 'sent') dels.push(this.delivered.stage(victims.map((v) => v.seq)));
    await this.store.write(dels);
    let bytes = 0;
    for (const v of victims) {
      bytes += v.bytes;
      if (kind === 'sent') {
        this.sentFigures.records--;
        this.sentFigures.bytes -= v.bytes;
      } else this.tally(v.kind, v.cls, -1, -v.bytes);
    }
    // Retained records were delivered already: dropping them loses nothing the cloud lacks.
    if (kind !== 'sent') await this.evictedRanges.add(victims.map((v) => v.seq));
    return { records: victims.length, bytes };
  }

  /** Unsent records. */
  get depth(): number {
    let n = 0;
    for (const f of this.unsent.values()) n += f.records;
    return n;
  }

  /** Logical bytes held: unsent plus retained. */
  get bytes(): number {
    let n = this.sentFigures.bytes;
    for (const f of this.unsent.values()) n += f.bytes;
    return n;
  }

  async figures(): Promise<OutboxFigures> {
    let oldestUnsentTime: number | undefined;
    let oldestSeq = Infinity;
    for (const cls of RECORD_CLASSES) {
      for await (const [key, value] of this.store.outbox.iterator({ ...classRange(cls, 0, Number.MAX_SAFE_INTEGER), limit: 1 })) {
        const seq = parseOutboxKey(key).seq;
        if (seq > oldestSeq) continue;
        const json = checkedText(value, 'outbox head');
        if (json === undefined) continue;
        oldestSeq = seq;
        oldestUnsentTime = timeOf(json);
      }
    }
    return {
      unsent: Object.fromEntries([...this.unsent].map(([k, f]) => [k, { ...f }])),
      sent: { ...this.sentFigures },
      ...(oldestUnsentTime !== undefined ? { oldestUnsentTime } : {}),
    };
  }

  /** The seq the next record will get. */
  get upcomingSeq(): number {
    return this.nextSeq;
  }

  private lined(cls: RecordClass, seq: number): void {
    if (seq > (this.newest.get(cls) ?? 0)) this.newest.set(cls, seq);
  }

  private tally(kind: RecordKind, cls: RecordClass, records: number, bytes: number): void {
    const f = this.unsent.get(kind) ?? { records: 0, bytes: 0 };
    f.records += records;
    f.bytes += bytes;
    this.unsent.set(kind, f);
    this.unsentClass.set(cls, (this.unsentClass.get(cls) ?? 0) + records);
  }
}

const KIND_PREFIX = /^\{"seq":\d+,"kind":"(\w+)"(?:,"cls":"(\w+)")?/;

function kindOf(json: string): RecordKind {
  const m = KIND_PREFIX.exec(json);
  return (m?.[1] ?? 'reading') as RecordKind;
}

/** The class a stored record's JSON names (a retained record going back to the outbox). */
function classOfText(json: string): RecordClass {
  const m = KIND_PREFIX.exec(json);
  const cls = m?.[2] as RecordClass | undefined;
  return classOf((m?.[1] ?? 'reading') as RecordKind, cls !== undefined && (RECORD_CLASSES as readonly string[]).includes(cls) ? cls : undefined);
}

async function* mapAsync<A, B>(source: AsyncIterable<A>, f: (a: A) => B): AsyncGenerator<B> {
  for await (const a of source) yield f(a);
}

/** The record's JSON text, or undefined when its checksum fails. */
function checkedText(value: Buffer, where: string): string | undefined {
  try {
    return decodeCheckedText(value, where);
  } catch (err) {
    if (isEdgeError(err, 'EDGE_STORE_CORRUPT')) return undefined;
    throw err;
  }
}

function timeOf(json: string): number {
  return (JSON.parse(json) as WireRecord).t;
}
