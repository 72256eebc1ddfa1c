/**
 * A binary min-heap on (time, arrival sequence): the reorder buffer of the event-time stage and
 * the merge buffer in front of order-sensitive windows. Ties keep arrival order, so re-sorting
 * is stable and restore-from-checkpoint gives the same sequence.
 */
export interface Held<T> {
  t: number;
  seq: number;
  item: T;
}

export class ReorderBuffer<T> {
  private readonly heap: Array<Held<T>> = [];

  get size(): number {
    return this.heap.length;
  }

  /** Time of the earliest held entry, or +Infinity when empty. */
  peekTime(): number {
    return this.heap.length ? this.heap[0]!.t : Infinity;
  }

  /** Pops every entry earlier than `t`, in order, into `f`; returns how many. */
  releaseBefore(t: number, f: (held: Held<T>) => void): number {
    let n = 0;
    while (this.heap.length > 0 && this.heap[0]!.t < t) {
      f(this.pop()!);
      n++;
    }
    return n;
  }

  push(t: number, seq: number, item: T): void {
    const h = this.heap;
    const e = { t, seq, item };
    let i = h.length;
    h.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(e, h[p]!)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
  }

  pop(): Held<T> | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      const n = h.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && less(h[r]!, h[l]!) ? r : l;
        if (!less(h[c]!, last)) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }

  /** Entries in release order, for checkpoints. */
  sorted(): Array<Held<T>> {
    return [...this.heap].sort((a, b) => (less(a, b) ? -1 : 1));
  }
}

function less<T>(a: Held<T>, b: Held<T>): boolean {
  return a.t < b.t || (a.t === b.t && a.seq < b.seq);
}
