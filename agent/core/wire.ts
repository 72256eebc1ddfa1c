import { gunzipSync } from 'node:zlib';
import { EdgeError } from './errors.js';

/**
 * The wire format to the cloud (DESIGN §6). Times are epoch milliseconds: numbers are shorter
 * than ISO strings, and IoT Hub bills by the 4 KB unit.
 */
export const WIRE_VERSION = 1;

export type RecordKind = 'result' | 'reading' | 'event' | 'health';

/**
 * Sending priority, highest first: alarms and events never wait behind results, results never
 * behind raw readings. A message holds records of one class only.
 */
export const RECORD_CLASSES = ['alarm', 'result', 'reading'] as const;
export type RecordClass = (typeof RECORD_CLASSES)[number];

/** A record's class: its own `cls` (a query's `priority`), else its kind's. */
export function classOf(kind: RecordKind, cls?: RecordClass): RecordClass {
  if (cls !== undefined) return cls;
  return kind === 'reading' ? 'reading' : kind === 'result' ? 'result' : 'alarm';
}

interface RecordBase {
  /** Per-device sequence number; never goes back, across restarts. */
  seq: number;
  kind: RecordKind;
  /** Application time (for a result: the window end, i.e. System.Timestamp()). */
  t: number;
}

export interface ReadingRecord extends RecordBase {
  kind: 'reading';
  /** Arrival time at the agent's stamp stage. */
  at: number;
  src: string;
  pt: string;
  v: number | boolean | string | null;
  q: 'good' | 'bad';
  err?: string;
  u?: string;
}

export interface ResultRecord extends RecordBase {
  kind: 'result';
  /** Query name and its INTO output. */
  query: string;
  out: string;
  /** Window start (exclusive) and end (inclusive); start is null for snapshot windows. */
  ws: number | null;
  we: number;
  /** The GROUP BY key, as canonical JSON, so the cloud can upsert on it. */
  key: string;
  rev: number;
  row: Record<string, unknown>;
  /** Set only when the query's `priority` differs from the kind's class (`result`). */
  cls?: RecordClass;
}

export interface EventRecord extends RecordBase {
  kind: 'event' | 'health';
  name: string;
  data: Record<string, unknown>;
}

export type WireRecord = ReadingRecord | ResultRecord | EventRecord;

export interface WireMessage {
  v: typeof WIRE_VERSION;
  device: string;
  /** Identifies one run of the agent: a new boot is not a gap. */
  boot: string;
  records: WireRecord[];
}

/** Message properties set beside the body (strings, as IoT Hub application properties are). */
export interface WireProperties {
  v: string;
  kind: RecordKind | 'mixed';
  seqFrom: string;
  seqTo: string;
  count: string;
  /** The records' class, so hub routes can favour alarms. */
  class?: RecordClass;
}

export function wireProperties(message: WireMessage): WireProperties {
  const kinds = new Set(message.records.map((r) => r.kind));
  const seqs = message.records.map((r) => r.seq);
  return propertiesFor(kinds.size === 1 ? [...kinds][0]! : 'mixed', Math.min(...seqs), Math.max(...seqs), message.records.length);
}

/** The properties of a message holding `count` records of `kind`, seqs `seqFrom`..`seqTo`. */
export function propertiesFor(kind: WireProperties['kind'], seqFrom: number, seqTo: number, count: number, cls?: RecordClass): WireProperties {
  return { v: String(WIRE_VERSION), kind, seqFrom: String(seqFrom), seqTo: String(seqTo), count: String(count), ...(cls ? { class: cls } : {}) };
}

/** Decodes a message body as the cloud receives it; throws EDGE_USAGE-free EdgeErrors on damage. */
export function decodeWireMessage(body: Buffer, contentEncoding?: string): WireMessage {
  let text: string;
  try {
    text = (contentEncoding === 'gzip' ? gunzipSync(body) : body).toString('utf8');
  } catch (cause) {
    throw new EdgeError('EDGE_STORE_CORRUPT', 'message body is not valid gzip', { cause });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (cause) {
    throw new EdgeError('EDGE_STORE_CORRUPT', 'message body is not JSON', { cause });
  }
  if (!isWireMessage(doc)) {
    throw new EdgeError('EDGE_STORE_CORRUPT', 'message body is not a v1 edge-agent message');
  }
  return doc;
}

function isWireMessage(doc: unknown): doc is WireMessage {
  if (typeof doc !== 'object' || doc === null) return false;
  const m = doc as Record<string, unknown>;
  return (
    m.v === WIRE_VERSION &&
    typeof m.device === 'string' &&
    typeof m.boot === 'string' &&
    Array.isArray(m.records) &&
    m.records.every(
      (r) =>
        typeof r === 'object' &&
        r !== null &&
        Number.isSafeInteger((r as WireRecord).seq) &&
        typeof (r as WireRecord).kind === 'string' &&
        typeof (r as WireRecord).t === 'number',
    )
  );
}
