import { gzipSync } from 'node:zlib';
import { WIRE_VERSION, type RecordKind } from '../core/wire.js';
import type { PendingRecord } from '../outbox/outbox.js';

/** IoT Hub meters device-to-cloud traffic in 4 KB units (and refuses messages over 256 KB). */
export const METER_UNIT_BYTES = 4096;

export interface PackedMessage {
  body: Buffer;
  seqs: number[];
  seqFrom: number;
  seqTo: number;
  kind: RecordKind | 'mixed';
  /** True when the message stopped because the next record would not fit. */
  full: boolean;
  /** The body is gzip (contentEncoding `gzip`). */
  compressed: boolean;
  /** Uncompressed bytes over body bytes (1 when not compressed). */
  ratio: number;
}

export type PackInput = Pick<PendingRecord, 'seq' | 'kind' | 'json'>;

export interface PackOptions {
  device: string;
  boot: string;
  /** Largest body to produce. Bodies up to this size fill whole 4 KB units but the last. */
  maxBytes: number;
  /** gzip the body; records are then packed until the *compressed* body nears `maxBytes`. */
  compress?: boolean;
  /** Expected compression ratio (from the previous message), to size the first attempt. */
  ratioHint?: number;
}

/** Never build more than this much JSON for one message, whatever the compression ratio. */
const MAX_UNCOMPRESSED = 8 * 1024 * 1024;

/**
 * Takes records from the front of `records` (in seq order) into one message body of at most
 * `maxBytes`. The stored JSON text of each record is used as is: no re-serialisation. A single
 * record larger than `maxBytes` travels alone rather than never.
 */
export function packMessage(records: PackInput[], options: PackOptions): PackedMessage {
  if (records.length === 0) throw new TypeError('packMessage needs at least one record');
  if (!options.compress) return packJson(records, options.maxBytes, options);
  // Billing counts the compressed body: aim the JSON at maxBytes × ratio, then shrink if the
  // guess was too bold. Each retry keeps a prefix of the records, so seq order holds.
  let budget = Math.min(MAX_UNCOMPRESSED, Math.floor(options.maxBytes * Math.max(1, options.ratioHint ?? 4)));
  for (;;) {
    const json = packJson(records, budget, options);
    const body = gzipSync(json.body);
    if (body.length <= options.maxBytes || json.seqs.length === 1) {
      return { ...json, body, compressed: true, ratio: json.body.length / body.length, full: json.full || body.length > options.maxBytes * 0.9 };
    }
    budget = Math.floor(budget * (options.maxBytes / body.length) * 0.95);
  }
}

function packJson(records: PackInput[], maxBytes: number, options: PackOptions): PackedMessage {
  const head = `{"v":${WIRE_VERSION},"device":${JSON.stringify(options.device)},"boot":${JSON.stringify(options.boot)},"records":[`;
  const tail = ']}';
  let size = Buffer.byteLength(head) + tail.length;
  const parts: string[] = [];
  const seqs: number[] = [];
  const kinds = new Set<RecordKind>();
  let full = false;
  for (const record of records) {
    const add = Buffer.byteLength(record.json) + (parts.length > 0 ? 1 : 0);
    if (parts.length > 0 && size + add > maxBytes) {
      full = true;
      break;
    }
    size += add;
    parts.push(record.json);
    seqs.push(record.seq);
    kinds.add(record.kind);
  }
  return {
    body: Buffer.from(head + parts.join(',') + tail, 'utf8'),
    seqs,
    seqFrom: seqs[0]!,
    seqTo: seqs[seqs.length - 1]!,
    kind: kinds.size === 1 ? [...kinds][0]! : 'mixed',
    full,
    compressed: false,
    ratio: 1,
  };
}

/** Billed 4 KB units for a message of `bytes`. */
export function meterUnits(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / METER_UNIT_BYTES));
}
