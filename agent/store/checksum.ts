import { crc32 } from 'node:zlib';
import { EdgeError } from '../core/errors.js';

/**
 * Values are stored as [crc32 (4 bytes, big-endian)][UTF-8 JSON]. LevelDB's own recovery
 * passes over some damage (a torn value in a log it replays); the checksum lets us notice.
 */
export function encodeChecked(value: unknown): Buffer {
  // One buffer per record, not a body and a copy: every journal entry and outbox record comes here.
  const json = JSON.stringify(value);
  const out = Buffer.allocUnsafe(4 + Buffer.byteLength(json));
  out.write(json, 4, 'utf8');
  out.writeUInt32BE(crc32(out.subarray(4)), 0);
  return out;
}

export function decodeChecked<T>(buf: Buffer, where: string): T {
  if (buf.length < 4) throw new EdgeError('EDGE_STORE_CORRUPT', `${where}: record is truncated`);
  const body = buf.subarray(4);
  if (crc32(body) !== buf.readUInt32BE(0)) throw new EdgeError('EDGE_STORE_CORRUPT', `${where}: record checksum mismatch`);
  return JSON.parse(body.toString('utf8')) as T;
}

/** Fixed-width decimal keys sort numerically under LevelDB's byte order. */
export function positionKey(n: number): string {
  return n.toString().padStart(16, '0');
}

export function keyPosition(key: string): number {
  return Number(key);
}

/** Verifies the checksum and returns the stored JSON text without parsing it. */
export function decodeCheckedText(buf: Buffer, where: string): string {
  if (buf.length < 4) throw new EdgeError('EDGE_STORE_CORRUPT', `${where}: record is truncated`);
  const body = buf.subarray(4);
  if (crc32(body) !== buf.readUInt32BE(0)) throw new EdgeError('EDGE_STORE_CORRUPT', `${where}: record checksum mismatch`);
  return body.toString('utf8');
}
