import { decodeWireMessage, type WireMessage, type WireRecord } from '../../agent/core/wire.js';
import { errorMessage } from '../../agent/core/errors.js';
import { appendGap, fillSeq, findGap, rejectSeq } from './gaps.js';
import { clockAheadMs, isSkewed } from './skew.js';
import type { SourceEvent } from './source.js';
import { wsKey, type DeviceState, type EventRow, type ReadingRow, type ResultRow } from './store.js';

/**
 * The reconciliation rules, applied to in-memory device state one source batch at a time:
 * - a record is new only if its seq is above the device's highest or inside one of its gaps,
 *   so duplicates (device, seq) are dropped without keeping every seq ever seen;
 * - a seq beyond highest + 1 opens a gap; a seq inside a gap fills it;
 * - the boot id follows the highest seq (a reboot continues the seq, so it is never a gap);
 * - results are collapsed per key keeping the highest (rev, seq), so the batch is
 *   order-independent and the store's upsert sees one row per key.
 * No I/O here: the Reconciler commits the output together with the batch's checkpoint.
 */
export interface ReconcileOptions {
  /** The seq a device's first record carries; anything below the first seq seen is a gap from here. */
  firstSeq: number;
  skewThresholdMs: number;
}

export interface RejectedMessage {
  partitionId: string;
  sequenceNumber: number;
  deviceId: string;
  reason: string;
}

/** One malformed record inside an otherwise good message: its seq is closed as `rejected`. */
export interface RejectedRecord {
  deviceId: string;
  seq: number;
  kind: string;
  reason: string;
}

export class BatchOutput {
  readonly results = new Map<string, ResultRow>();
  readonly readings: ReadingRow[] = [];
  readonly events: EventRow[] = [];
  readonly changed = new Set<string>();
  readonly rejected: RejectedMessage[] = [];
  readonly rejectedRecords: RejectedRecord[] = [];
  accepted = 0;
  duplicates = 0;

  get rowCount(): number {
    return this.results.size + this.readings.length + this.events.length;
  }
}

function newDeviceState(device: string, boot: string, firstSeq: number, enqueuedTime: number): DeviceState {
  return {
    device,
    boot,
    boots: 1,
    maxSeq: firstSeq - 1,
    records: 0,
    duplicates: 0,
    lostRecords: 0,
    firstEnqueued: enqueuedTime,
    lastEnqueued: enqueuedTime,
    clockAheadMs: 0,
    clockSkewed: false,
    gaps: [],
  };
}

/** Applies `events` to `devices` (mutated in place) and collects the rows to store into `out`. */
export function reconcileEvents(
  devices: Map<string, DeviceState>,
  events: readonly SourceEvent[],
  now: number,
  options: ReconcileOptions,
  out: BatchOutput,
): void {
  for (const event of events) {
    let message: WireMessage;
    try {
      message = decodeWireMessage(event.body, event.systemProperties['content-encoding']);
    } catch (err) {
      out.rejected.push(reject(event, errorMessage(err)));
      continue;
    }
    // The hub's authenticated device id wins: a body naming another device is not trusted.
    if (message.device !== event.deviceId) {
      out.rejected.push(reject(event, `body names device ${message.device}, hub says ${event.deviceId}`));
      continue;
    }
    let state = devices.get(event.deviceId);
    if (!state) {
      state = newDeviceState(event.deviceId, message.boot, options.firstSeq, event.enqueuedTime);
      devices.set(event.deviceId, state);
    }
    out.changed.add(state.device);
    applyMessage(state, message, event.enqueuedTime, now, options, out);
  }
}

function applyMessage(
  state: DeviceState,
  message: WireMessage,
  enqueuedTime: number,
  now: number,
  options: ReconcileOptions,
  out: BatchOutput,
): void {
  if (enqueuedTime >= state.lastEnqueued) {
    const ahead = clockAheadMs(message.records, enqueuedTime);
    state.clockAheadMs = ahead;
    state.clockSkewed = isSkewed(ahead, options.skewThresholdMs);
    state.lastEnqueued = enqueuedTime;
  }
  if (enqueuedTime < state.firstEnqueued) state.firstEnqueued = enqueuedTime;

  for (const record of message.records) {
    const seq = record.seq;
    // A malformed record takes its seq like any other but leaves no row: its seq closes as
    // `rejected` (counted, listed with the gaps, never resent: a resend would bring the same
    // record back), and the good records of the same message are kept.
    const problem = recordProblem(record);
    if (seq > state.maxSeq) {
      if (state.records === 0 && state.gaps.length === 0 && seq < options.firstSeq) {
        // A device counting from below firstSeq: nothing to call missing yet.
      } else if (seq > state.maxSeq + 1) {
        appendGap(state.gaps, state.maxSeq + 1, seq - 1, now);
      }
      state.maxSeq = seq;
      if (message.boot !== state.boot) {
        state.boot = message.boot;
        state.boots += 1;
      }
      if (problem !== null) {
        rejectRecord(state, record, problem, now, out);
        continue;
      }
    } else {
      const i = findGap(state.gaps, seq);
      // The same malformed record again (a resend, a duplicate delivery) is a duplicate.
      if (i < 0 || (problem !== null && state.gaps[i]!.state === 'rejected')) {
        state.duplicates += 1;
        out.duplicates += 1;
        continue;
      }
      // A record the device had declared lost still counts once it turns up.
      if (state.gaps[i]!.state === 'lost') state.lostRecords -= 1;
      fillSeq(state.gaps, i, seq);
      if (problem !== null) {
        rejectRecord(state, record, problem, now, out);
        continue;
      }
    }
    state.records += 1;
    out.accepted += 1;
    collect(state.device, record, enqueuedTime, out);
  }
}

function rejectRecord(state: DeviceState, record: WireRecord, reason: string, now: number, out: BatchOutput): void {
  rejectSeq(state.gaps, record.seq, now);
  out.rejectedRecords.push({ deviceId: state.device, seq: record.seq, kind: record.kind, reason });
}

function collect(device: string, r: WireRecord, enqueuedTime: number, out: BatchOutput): void {
  switch (r.kind) {
    case 'result': {
      const k = resultKey(device, r.query, r.out, r.key, r.ws, r.we);
      const prev = out.results.get(k);
      if (prev && (prev.rev > r.rev || (prev.rev === r.rev && prev.seq > r.seq))) return;
      out.results.set(k, {
        device,
        query: r.query,
        out: r.out,
        key: r.key,
        ws: r.ws,
        we: r.we,
        rev: r.rev,
        seq: r.seq,
        row: r.row,
        enqueuedTime,
      });
      return;
    }
    case 'reading':
      out.readings.push({
        device,
        seq: r.seq,
        src: r.src,
        pt: r.pt,
        t: r.t,
        at: r.at,
        v: r.v,
        q: r.q,
        err: r.err ?? null,
        u: r.u ?? null,
      });
      return;
    case 'event':
    case 'health':
      out.events.push({ device, seq: r.seq, kind: r.kind, t: r.t, name: r.name, data: r.data });
      return;
  }
}

/** The upsert key of a result: (device, query, output, group key, window start, window end). */
export function resultKey(device: string, query: string, outName: string, key: string, ws: number | null, we: number): string {
  return JSON.stringify([device, query, outName, key, wsKey(ws), we]);
}

const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * What is wrong with a record beyond what decodeWireMessage checks, or null. Times are integer
 * epoch ms (the wire format says so, and the SQL columns are integers). Unknown kinds pass: a
 * newer agent's record still takes its seq, we just have no table for it.
 */
function recordProblem(r: WireRecord): string | null {
  const bad = (what: string) => `record seq ${r.seq} (${r.kind}): ${what}`;
  if (!isTime(r.t)) return bad('t is not an integer epoch ms');
  switch (r.kind) {
    case 'result':
      if (typeof r.query !== 'string' || typeof r.out !== 'string' || typeof r.key !== 'string') return bad('query/out/key must be strings');
      if (!isTime(r.we) || (r.ws !== null && !isTime(r.ws))) return bad('ws/we are not integer epoch ms');
      if (!Number.isSafeInteger(r.rev) || r.rev < 0) return bad('rev is not a non-negative integer');
      if (!isObject(r.row)) return bad('row is not an object');
      break;
    case 'reading':
      if (!isTime(r.at)) return bad('at is not an integer epoch ms');
      if (typeof r.src !== 'string' || typeof r.pt !== 'string') return bad('src/pt must be strings');
      if (r.q !== 'good' && r.q !== 'bad') return bad('q must be good or bad');
      if (r.v !== null && !['number', 'boolean', 'string'].includes(typeof r.v)) return bad('v has an unsupported type');
      if ((r.err !== undefined && typeof r.err !== 'string') || (r.u !== undefined && typeof r.u !== 'string')) return bad('err/u must be strings');
      break;
    case 'event':
    case 'health':
      if (typeof r.name !== 'string' || !isObject(r.data)) return bad('name/data missing');
      break;
  }
  return null;
}

function reject(event: SourceEvent, reason: string): RejectedMessage {
  return { partitionId: event.partitionId, sequenceNumber: event.sequenceNumber, deviceId: event.deviceId, reason };
}
