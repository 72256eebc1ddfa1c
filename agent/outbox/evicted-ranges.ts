import { decodeChecked, encodeChecked } from '../store/checksum.js';
import type { AgentStore } from '../store/store.js';

export interface SeqRange {
  fromSeq: number;
  toSeq: number;
}

const KEY = 'evictedRanges';
/** Kept small: the cloud asks about recent gaps; very old ranges merge into their neighbours' report. */
const MAX_RANGES = 1000;

/**
 * Seqs the agent gave up (quota, TTL, damage), as merged ranges, so that a resend request for
 * them is answered "evicted" and the cloud can close the gap as lost rather than wait forever.
 */
export class EvictedRanges {
  private ranges: SeqRange[] = [];
  private total = 0;

  constructor(private readonly store: AgentStore) {}

  async init(): Promise<void> {
    const raw = await this.store.meta.get(KEY);
    if (raw) ({ ranges: this.ranges, total: this.total } = decodeChecked<{ ranges: SeqRange[]; total: number }>(raw, 'evicted ranges'));
  }

  async add(seqs: number[]): Promise<void> {
    for (const seq of [...seqs].sort((a, b) => a - b)) this.insert(seq);
    this.total += seqs.length;
    if (this.ranges.length > MAX_RANGES) this.ranges.splice(0, this.ranges.length - MAX_RANGES);
    await this.store.meta.put(KEY, encodeChecked({ ranges: this.ranges, total: this.total }));
  }

  list(): SeqRange[] {
    return this.ranges.map((r) => ({ ...r }));
  }

  /** Records ever evicted (the ranges may have been trimmed; this count is not). */
  get count(): number {
    return this.total;
  }

  private insert(seq: number): void {
    const last = this.ranges[this.ranges.length - 1];
    if (last && seq >= last.fromSeq && seq <= last.toSeq) return;
    if (last && seq === last.toSeq + 1) {
      last.toSeq = seq;
      return;
    }
    // Out of order (rare): insert and merge neighbours.
    this.ranges.push({ fromSeq: seq, toSeq: seq });
    this.ranges.sort((a, b) => a.fromSeq - b.fromSeq);
    const merged: SeqRange[] = [];
    for (const r of this.ranges) {
      const prev = merged[merged.length - 1];
      if (prev && r.fromSeq <= prev.toSeq + 1) prev.toSeq = Math.max(prev.toSeq, r.toSeq);
      else merged.push({ ...r });
    }
    this.ranges = merged;
  }
}
