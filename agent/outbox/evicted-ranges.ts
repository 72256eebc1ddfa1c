import type { SeqRange } from '../core/agent-stats.js';
import { decodeChecked, encodeChecked } from '../store/checksum.js';
import { META } from '../store/meta-keys.js';
import type { AgentStore, StoreOp } from '../store/store.js';


/** Kept small: the cloud asks about recent gaps; very old ranges fold into `below`. */
const MAX_RANGES = 1000;

/**
 * A durable set of seq ranges under one meta key. Two of them exist: seqs the agent gave up
 * (quota, TTL, damage — answered "evicted" to resend requests, so the cloud closes the gap as
 * lost rather than wait forever), and seqs acknowledged and no longer held (retention off, pruned,
 * evicted from retention), which the continuity check at open needs to tell a deleted record
 * from a lost one. Ranges trimmed for size fold into `below`: every seq under it is in the set.
 */
export class EvictedRanges {
  private ranges: SeqRange[] = [];
  private total = 0;
  private belowSeq = 1;

  constructor(
    private readonly store: AgentStore,
    private readonly key: string = META.evictedRanges,
  ) {}

  /** `baseline`: for a store written before this set existed, the seqs below it count as in it. */
  async init(baseline?: number): Promise<boolean> {
    const raw = await this.store.meta.get(this.key);
    if (raw) {
      const saved = decodeChecked<{ ranges: SeqRange[]; total: number; below?: number }>(raw, this.key);
      ({ ranges: this.ranges, total: this.total } = saved);
      this.belowSeq = saved.below ?? 1;
      return true;
    }
    if (baseline !== undefined) this.belowSeq = baseline;
    return false;
  }

  async add(seqs: number[]): Promise<void> {
    if (seqs.length === 0) return;
    await this.store.write([this.stage(seqs)]);
  }

  /** Adds `seqs` in memory and returns the write that persists the set, for the caller's batch. */
  stage(seqs: number[]): StoreOp {
    for (const seq of [...seqs].sort((a, b) => a - b)) this.insert(seq, seq);
    this.total += seqs.length;
    if (this.ranges.length > MAX_RANGES) {
      const trimmed = this.ranges.splice(0, this.ranges.length - MAX_RANGES);
      this.belowSeq = Math.max(this.belowSeq, trimmed[trimmed.length - 1]!.toSeq + 1);
    }
    return { type: 'put', sublevel: this.store.meta, key: this.key, value: encodeChecked({ ranges: this.ranges, total: this.total, below: this.belowSeq }) };
  }

  /** Adds whole ranges (the continuity check's finding). */
  async addRanges(ranges: SeqRange[]): Promise<void> {
    if (ranges.length === 0) return;
    for (const r of ranges) {
      this.insert(r.fromSeq, r.toSeq);
      this.total += r.toSeq - r.fromSeq + 1;
    }
    await this.store.write([this.stage([])]);
  }

  list(): SeqRange[] {
    return this.ranges.map((r) => ({ ...r }));
  }

  /** Every seq below this is in the set. */
  get below(): number {
    return this.belowSeq;
  }

  /** Records ever added (the ranges may have been trimmed; this count is not). */
  get count(): number {
    return this.total;
  }

  private insert(from: number, to: number): void {
    if (to < this.belowSeq) return;
    const last = this.ranges[this.ranges.length - 1];
    if (!last || from > last.toSeq + 1) {
      this.ranges.push({ fromSeq: from, toSeq: to });
      return;
    }
    if (from >= last.fromSeq && to <= last.toSeq) return;
    if (from >= last.fromSeq) {
      last.toSeq = Math.max(last.toSeq, to);
      return;
    }
    // Below the newest range: common once classes deliver out of seq order (results before the
    // readings between them). Binary search, then merge only the neighbours: a full sort per seq
    // made each acknowledgement cost O(ranges log ranges) per record.
    let lo = 0;
    let hi = this.ranges.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ranges[mid]!.toSeq + 1 < from) lo = mid + 1;
      else hi = mid;
    }
    // ranges[lo] is the first that touches or follows `from`.
    let end = lo;
    let fromSeq = from;
    let toSeq = to;
    while (end < this.ranges.length && this.ranges[end]!.fromSeq <= to + 1) {
      fromSeq = Math.min(fromSeq, this.ranges[end]!.fromSeq);
      toSeq = Math.max(toSeq, this.ranges[end]!.toSeq);
      end++;
    }
    this.ranges.splice(lo, end - lo, { fromSeq, toSeq });
  }
}

/** Sorts and merges overlapping or adjacent ranges. */
export function mergeRanges(ranges: SeqRange[]): SeqRange[] {
  const sorted = [...ranges].sort((a, b) => a.fromSeq - b.fromSeq);
  const merged: SeqRange[] = [];
  for (const r of sorted) {
    const prev = merged[merged.length - 1];
    if (prev && r.fromSeq <= prev.toSeq + 1) prev.toSeq = Math.max(prev.toSeq, r.toSeq);
    else merged.push({ ...r });
  }
  return merged;
}

/** The parts of `[from, to]` that none of `covered` (merged, sorted) holds. */
export function uncovered(from: number, to: number, covered: SeqRange[]): SeqRange[] {
  const out: SeqRange[] = [];
  let next = from;
  for (const r of covered) {
    if (r.toSeq < next) continue;
    if (r.fromSeq > to) break;
    if (r.fromSeq > next) out.push({ fromSeq: next, toSeq: Math.min(to, r.fromSeq - 1) });
    next = Math.max(next, r.toSeq + 1);
    if (next > to) break;
  }
  if (next <= to) out.push({ fromSeq: next, toSeq: to });
  return out;
}
