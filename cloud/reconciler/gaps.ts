/**
 * A device's missing seq ranges. Every seq from the device's first one up to its highest seen
 * is either received or inside exactly one gap; a gap is `open` (we still hope for the records),
 * `lost` (the device said it evicted them) or `rejected` (the record arrived but was malformed:
 * asking again would bring the same record back, so it is never resent, and it does not hold
 * back the contiguous seq). Gaps are kept sorted by `from` and never overlap, so lookups are
 * binary searches even after a long, patchy outage.
 */
export type GapState = 'open' | 'lost' | 'rejected';

export interface Gap {
  from: number;
  to: number;
  state: GapState;
  /** Reconciler clock when the gap was first seen; the resend grace period runs from here. */
  openedAt: number;
  /** Reconciler clock of the last resend request, null before the first. */
  requestedAt: number | null;
  attempts: number;
  /** When the device declared the range lost; null while open. */
  closedAt: number | null;
}

export function gapSize(g: Pick<Gap, 'from' | 'to'>): number {
  return g.to - g.from + 1;
}

/** Index of the gap holding `seq`, or -1. */
export function findGap(gaps: readonly Gap[], seq: number): number {
  let lo = 0;
  let hi = gaps.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const g = gaps[mid]!;
    if (seq < g.from) hi = mid - 1;
    else if (seq > g.to) lo = mid + 1;
    else return mid;
  }
  return -1;
}

/** Takes `seq` out of the gap at `index` (it arrived): the gap shrinks, splits or disappears. */
export function fillSeq(gaps: Gap[], index: number, seq: number): void {
  const g = gaps[index]!;
  if (g.from === g.to) gaps.splice(index, 1);
  else if (seq === g.from) g.from += 1;
  else if (seq === g.to) g.to -= 1;
  else {
    gaps.splice(index + 1, 0, { ...g, from: seq + 1 });
    g.to = seq - 1;
  }
}

/** Opens a gap above every existing one (the caller has just seen a seq beyond its highest). */
export function appendGap(gaps: Gap[], from: number, to: number, now: number): void {
  gaps.push({ from, to, state: 'open', openedAt: now, requestedAt: null, attempts: 0, closedAt: null });
}

/**
 * Records `seq` as a malformed record: a one-seq `rejected` gap, merged with a rejected
 * neighbour. The seq must not be inside any gap (fill it first) and may be above every gap.
 */
export function rejectSeq(gaps: Gap[], seq: number, now: number): void {
  let lo = 0;
  let hi = gaps.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (gaps[mid]!.from > seq) hi = mid;
    else lo = mid + 1;
  }
  const at = lo;
  const before = gaps[at - 1];
  const after = gaps[at];
  const joinsBefore = before?.state === 'rejected' && before.to === seq - 1;
  const joinsAfter = after?.state === 'rejected' && after.from === seq + 1;
  if (joinsBefore && joinsAfter) {
    before.to = after.to;
    gaps.splice(at, 1);
  } else if (joinsBefore) before.to = seq;
  else if (joinsAfter) after.from = seq;
  else gaps.splice(at, 0, { from: seq, to: seq, state: 'rejected', openedAt: now, requestedAt: null, attempts: 0, closedAt: now });
}

/** Seqs whose record arrived malformed (sum of rejected gap sizes). */
export function rejectedCount(gaps: readonly Gap[]): number {
  let n = 0;
  for (const g of gaps) if (g.state === 'rejected') n += gapSize(g);
  return n;
}

/**
 * Marks the open parts of [from, to] as lost (the device evicted them). Open gaps partly inside
 * the range are split so only the evicted part is closed. Returns how many seqs became lost.
 */
export function markLost(gaps: Gap[], from: number, to: number, now: number): number {
  let lost = 0;
  const out: Gap[] = [];
  for (const g of gaps) {
    if (g.state !== 'open' || g.to < from || g.from > to) {
      out.push(g);
      continue;
    }
    const lo = Math.max(g.from, from);
    const hi = Math.min(g.to, to);
    if (g.from < lo) out.push({ ...g, to: lo - 1 });
    out.push({ ...g, from: lo, to: hi, state: 'lost', closedAt: now });
    if (hi < g.to) out.push({ ...g, from: hi + 1 });
    lost += hi - lo + 1;
  }
  gaps.splice(0, gaps.length, ...out);
  return lost;
}

/** Highest seq such that every seq up to it was received or is explained as lost. */
export function contiguousSeq(gaps: readonly Gap[], maxSeq: number): number {
  const firstOpen = gaps.find((g) => g.state === 'open');
  return firstOpen ? firstOpen.from - 1 : maxSeq;
}

export function openGapCount(gaps: readonly Gap[]): number {
  let n = 0;
  for (const g of gaps) if (g.state === 'open') n++;
  return n;
}
