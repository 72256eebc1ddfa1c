import type { RecordKind, WireRecord } from '../core/wire.js';
import { decodeChecked, decodeCheckedText, encodeChecked, keyPosition, positionKey } from '../store/checksum.js';
import type { AgentStore } from '../store/store.js';
import { Signal } from '../runtime/signal.js';

/** A record before it gets its seq. */
export type RecordDraft = WireRecord extends infer R ? (R extends WireRecord ? Omit<R, 'seq'> : never) : never;

/** An outbox record as the forwarder reads it: its JSON text is sent as stored. */
export interface PendingRecord {
  seq: number;
  kind: RecordKind;
  json: string;
}

export interface StagedRecords {
  ops: Array<{ type: 'put'; sublevel: AgentStore['outbox'] | AgentStore['meta']; key: string; value: Buffer }>;
  /** Call after the batch holding `ops` has committed. */
  commit(): void;
}

const NEXT_SEQ_KEY = 'nextSeq';

/**
 * Records waiting for the hub's acknowledgement, keyed by the device's `seq`. The seq counter
 * is stored in the same atomic batch as the records that used it, so it never goes back,
 * across crashes and restarts.
 */
export class Outbox {
  private nextSeq = 1;
  private count = 0;
  /** Fires whenever records are added. */
  readonly added = new Signal();

  constructor(private readonly store: AgentStore) {}

  async init(): Promise<void> {
    let stored = 1;
    const raw = await this.store.meta.get(NEXT_SEQ_KEY);
    if (raw) stored = decodeChecked<number>(raw, 'outbox seq counter');
    let last = 0;
    for await (const key of this.store.outbox.keys({ reverse: true, limit: 1 })) last = keyPosition(key);
    this.nextSeq = Math.max(stored, last + 1);
    let count = 0;
    for await (const _key of this.store.outbox.keys()) count++;
    this.count = count;
  }

  /** Assigns seqs to `drafts` and returns the writes to commit atomically with the caller's own. */
  stage(drafts: RecordDraft[]): StagedRecords {
    const first = this.nextSeq;
    const ops: StagedRecords['ops'] = drafts.map((draft, i) => ({
      type: 'put' as const,
      sublevel: this.store.outbox,
      key: positionKey(first + i),
      // seq and kind lead the JSON text so `kindOf` can read the kind without parsing.
      value: encodeChecked(Object.assign({ seq: first + i, kind: draft.kind }, draft)),
    }));
    const next = first + drafts.length;
    ops.push({ type: 'put', sublevel: this.store.meta, key: NEXT_SEQ_KEY, value: encodeChecked(next) });
    return {
      ops,
      commit: () => {
        this.nextSeq = next;
        this.count += drafts.length;
        if (drafts.length > 0) this.added.notify();
      },
    };
  }

  async read(afterSeq: number, limit: number): Promise<PendingRecord[]> {
    const out: PendingRecord[] = [];
    for await (const [key, value] of this.store.outbox.iterator({ gt: positionKey(afterSeq), limit })) {
      const json = decodeCheckedText(value, `outbox ${key}`);
      out.push({ seq: keyPosition(key), kind: kindOf(json), json });
    }
    return out;
  }

  /** Removes records the hub has acknowledged. Not fsynced: a lost delete only means a resend. */
  async remove(seqs: number[]): Promise<void> {
    await this.store.outbox.batch(seqs.map((seq) => ({ type: 'del' as const, key: positionKey(seq) })));
    this.count -= seqs.length;
  }

  get depth(): number {
    return this.count;
  }

  /** The seq the next record will get. */
  get upcomingSeq(): number {
    return this.nextSeq;
  }
}

const KIND_PREFIX = /^\{"seq":\d+,"kind":"(\w+)"/;

function kindOf(json: string): RecordKind {
  const m = KIND_PREFIX.exec(json);
  return (m ? m[1] : (JSON.parse(json) as WireRecord).kind) as RecordKind;
}
