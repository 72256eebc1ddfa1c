import type { HubEvent, MessageLogReader } from '../hub-event.js';

/**
 * Where a receiver starts, from the `apache.org:selector-filter:string` the Event Hubs SDK puts
 * on the link's source, e.g. `amqp.annotation.x-opt-offset > '123'`. The SDK sends exactly one
 * comparison on offset, sequence number or enqueued time (epoch ms); `'-1'` is the earliest
 * offset and `'@latest'` the end of the partition.
 */
export interface StartFilter {
  field: 'offset' | 'sequence-number' | 'enqueued-time';
  inclusive: boolean;
  value: string;
}

const FILTER = /^\s*amqp\.annotation\.x-opt-(offset|sequence-number|enqueued-time)\s*(>=|>)\s*'([^']*)'\s*$/;

/** Parses the selector; undefined when it is not one this endpoint understands. */
export function parseStartFilter(selector: string): StartFilter | undefined {
  const m = FILTER.exec(selector);
  if (!m) return undefined;
  const field = m[1] as StartFilter['field'];
  const value = m[3]!;
  if (field === 'offset' ? !/^(-1|\d+|@latest)$/.test(value) : !/^-?\d+$/.test(value)) return undefined;
  return { field, inclusive: m[2] === '>=', value };
}

/**
 * The first sequence number the filter admits, against the partition as it is now. Offsets and
 * sequence numbers rise together, and enqueued times are assigned in append order, so each is a
 * binary search over the log (one single-event read per step).
 */
export async function resolveStart(log: MessageLogReader, partition: number, filter: StartFilter): Promise<number> {
  const end = await log.endOf(partition);
  if (filter.field === 'sequence-number') {
    const n = Number(filter.value);
    return Math.min(Math.max(0, filter.inclusive ? n : n + 1), end);
  }
  if (filter.field === 'offset') {
    if (filter.value === '@latest') return end;
    if (filter.value === '-1') return 0;
    const offset = Number(filter.value);
    return firstWhere(log, partition, end, (e) => (filter.inclusive ? e.offset >= offset : e.offset > offset));
  }
  const t = Number(filter.value);
  return firstWhere(log, partition, end, (e) => (filter.inclusive ? e.enqueuedTime >= t : e.enqueuedTime > t));
}

/** The lowest sequence number in [0, end) whose event satisfies a monotone predicate, or `end`. */
async function firstWhere(log: MessageLogReader, partition: number, end: number, admits: (e: HubEvent) => boolean): Promise<number> {
  let lo = 0;
  let hi = end;
  while (lo < hi) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const [e] = await log.read(partition, mid, 1);
    if (e && admits(e)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
