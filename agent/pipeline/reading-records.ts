import type { StampedReading } from '../core/reading.js';
import type { RecordDraft } from '../outbox/outbox.js';

/** A stamped reading as a `reading` record of the wire format. */
export function readingRecord(r: StampedReading): RecordDraft {
  const draft: RecordDraft = { kind: 'reading', t: r.appTime, at: r.arrivalTime, src: r.source, pt: r.point, v: r.value, q: r.quality };
  if (r.error) draft.err = `${r.error.code}: ${r.error.message}`;
  if (r.unit) draft.u = r.unit;
  return draft;
}
