import { crc32 } from 'node:zlib';
import type { FileHandle } from 'node:fs/promises';
import type { HubEvent } from './hub-event.js';

/**
 * On-disk form of one message-log entry. A fixed header lets a scanner walk the file without
 * parsing JSON, and the CRC tells a complete entry from one torn by a crash mid-write:
 *
 *   u32 magic 'EHM1' | u32 payload length | u32 crc32(payload) | payload
 *   payload = u32 meta length | meta JSON | body bytes
 *
 * All integers big-endian. The entry's byte offset in its partition file is its Event Hubs offset.
 */
const RECORD_MAGIC = 0x45484d31;
const HEADER_BYTES = 12;
/** Far above IoT Hub's 256 KB message cap plus properties; anything larger is damage, not data. */
const MAX_PAYLOAD_BYTES = 4 * 1024 * 1024;

interface RecordMeta {
  s: number;
  t: number;
  d: string;
  sp: Record<string, string>;
  p: Record<string, string>;
}

export interface RecordFields {
  sequenceNumber: number;
  enqueuedTime: number;
  deviceId: string;
  systemProperties: Record<string, string>;
  properties: Record<string, string>;
  body: Buffer;
}

export function encodeRecord(fields: RecordFields): Buffer {
  const meta: RecordMeta = {
    s: fields.sequenceNumber,
    t: fields.enqueuedTime,
    d: fields.deviceId,
    sp: fields.systemProperties,
    p: fields.properties,
  };
  const metaBytes = Buffer.from(JSON.stringify(meta), 'utf8');
  const payloadLength = 4 + metaBytes.length + fields.body.length;
  const out = Buffer.allocUnsafe(HEADER_BYTES + payloadLength);
  out.writeUInt32BE(RECORD_MAGIC, 0);
  out.writeUInt32BE(payloadLength, 4);
  out.writeUInt32BE(metaBytes.length, HEADER_BYTES);
  metaBytes.copy(out, HEADER_BYTES + 4);
  fields.body.copy(out, HEADER_BYTES + 4 + metaBytes.length);
  out.writeUInt32BE(crc32(out.subarray(HEADER_BYTES)), 8);
  return out;
}

/** Decodes the entry starting at `at` within `buf` (which holds it whole). */
function decodeRecord(buf: Buffer, at: number, partition: number, offset: number): HubEvent {
  const payloadLength = buf.readUInt32BE(at + 4);
  const metaLength = buf.readUInt32BE(at + HEADER_BYTES);
  const metaStart = at + HEADER_BYTES + 4;
  const meta = JSON.parse(buf.toString('utf8', metaStart, metaStart + metaLength)) as RecordMeta;
  const bodyStart = metaStart + metaLength;
  return {
    partition,
    sequenceNumber: meta.s,
    offset,
    enqueuedTime: meta.t,
    deviceId: meta.d,
    systemProperties: meta.sp,
    properties: meta.p,
    // Copy: callers keep bodies long after the read buffer is gone.
    body: Buffer.from(buf.subarray(bodyStart, at + HEADER_BYTES + payloadLength)),
  };
}

export interface ScanResult {
  /** Start offsets of the complete, intact entries found, in order. */
  offsets: number[];
  /** Where the last intact entry ends (= where a torn tail, if any, starts). */
  end: number;
  /** True when bytes after `end` (up to the size scanned) are not an intact entry. */
  torn: boolean;
}

const CHUNK = 1024 * 1024;

/**
 * Walks entries from `from` up to `size` bytes, checking each header and CRC; stops at the first
 * entry that is incomplete or damaged. Reads in large chunks so a restart over a big log costs
 * a few reads, not one per entry.
 */
export async function scanRecords(fh: FileHandle, from: number, size: number): Promise<ScanResult> {
  const offsets: number[] = [];
  let pos = from;
  let buf = Buffer.allocUnsafe(CHUNK);
  let bufStart = 0;
  let bufLen = 0;
  const ensure = async (at: number, len: number): Promise<boolean> => {
    if (at + len > size) return false;
    if (at >= bufStart && at + len <= bufStart + bufLen) return true;
    if (len > buf.length) buf = Buffer.allocUnsafe(len);
    const want = Math.min(buf.length, size - at);
    const { bytesRead } = await fh.read(buf, 0, want, at);
    bufStart = at;
    bufLen = bytesRead;
    return bytesRead >= len;
  };
  while (pos < size) {
    if (!(await ensure(pos, HEADER_BYTES))) return { offsets, end: pos, torn: true };
    const h = pos - bufStart;
    const magic = buf.readUInt32BE(h);
    const payloadLength = buf.readUInt32BE(h + 4);
    const crc = buf.readUInt32BE(h + 8);
    if (magic !== RECORD_MAGIC || payloadLength < 4 || payloadLength > MAX_PAYLOAD_BYTES) {
      return { offsets, end: pos, torn: true };
    }
    if (!(await ensure(pos, HEADER_BYTES + payloadLength))) return { offsets, end: pos, torn: true };
    const p = pos - bufStart + HEADER_BYTES;
    if (crc32(buf.subarray(p, p + payloadLength)) !== crc) return { offsets, end: pos, torn: true };
    offsets.push(pos);
    pos += HEADER_BYTES + payloadLength;
  }
  return { offsets, end: pos, torn: false };
}

/** Reads entries `[from, from + count)` given their offsets and the end of the last one. */
export async function readRecords(
  fh: FileHandle,
  partition: number,
  offsets: readonly number[],
  from: number,
  count: number,
  endOfLast: number,
): Promise<HubEvent[]> {
  if (count <= 0) return [];
  const start = offsets[from]!;
  const stop = from + count < offsets.length ? offsets[from + count]! : endOfLast;
  const buf = Buffer.allocUnsafe(stop - start);
  const { bytesRead } = await fh.read(buf, 0, buf.length, start);
  if (bytesRead < buf.length) throw new Error(`message log partition ${partition} is shorter than its index`);
  const events: HubEvent[] = [];
  for (let i = from; i < from + count; i++) {
    const off = offsets[i]!;
    events.push(decodeRecord(buf, off - start, partition, off));
  }
  return events;
}
