import { RECORD_CLASSES, type RecordClass } from '../core/wire.js';
import { keyPosition, positionKey } from '../store/checksum.js';

/**
 * Outbox keys are `<class prefix><16-digit seq>`: each class is its own seq-ordered key range, so
 * the forwarder reads alarms without walking a backlog of millions of readings. Readings keep the
 * bare seq key (digits sort before the letters), so a store written before classes existed reads
 * as is: its records all count as readings and go at the lowest priority, nothing is rewritten.
 */
const PREFIX: Record<RecordClass, string> = { alarm: 'a', result: 'r', reading: '' };

export function outboxKey(cls: RecordClass, seq: number): string {
  return PREFIX[cls] + positionKey(seq);
}

export function parseOutboxKey(key: string): { cls: RecordClass; seq: number } {
  const head = key.charCodeAt(0);
  // A digit: a bare (reading) key.
  if (head >= 48 && head <= 57) return { cls: 'reading', seq: keyPosition(key) };
  const cls = RECORD_CLASSES.find((c) => PREFIX[c] === key[0]) ?? 'reading';
  return { cls, seq: keyPosition(key.slice(1)) };
}

/** The iterator range of class `cls` for seqs `afterSeq < seq < beforeSeq`. */
export function classRange(cls: RecordClass, afterSeq: number, beforeSeq: number): { gt: string; lt: string } {
  return { gt: outboxKey(cls, afterSeq), lt: outboxKey(cls, beforeSeq) };
}

/** Merges per-class streams, each in seq order, into one in seq order. */
export async function* mergeBySeq<T extends { seq: number }>(streams: Array<AsyncIterator<T>>): AsyncGenerator<T> {
  const heads: Array<T | undefined> = [];
  for (const s of streams) heads.push((await s.next()).value as T | undefined);
  try {
    for (;;) {
      let at = -1;
      for (let i = 0; i < heads.length; i++) if (heads[i] !== undefined && (at < 0 || heads[i]!.seq < heads[at]!.seq)) at = i;
      if (at < 0) return;
      const out = heads[at]!;
      const next = await streams[at]!.next();
      heads[at] = next.done ? undefined : next.value;
      yield out;
    }
  } finally {
    // An early `break` by the consumer must close the LevelDB iterators still open.
    for (const s of streams) await s.return?.();
  }
}
