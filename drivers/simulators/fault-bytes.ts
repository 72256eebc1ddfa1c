import { randomBytes } from 'node:crypto';
import type { Fault } from './slave-model.js';

/** Applies a fault to an encoded reply frame: the bytes to put on the wire (or none). */
export function faultyWire(frame: Buffer, fault: Fault, kind: 'rtu' | 'tcp'): Buffer | undefined {
  switch (fault.kind) {
    case 'no-reply':
      return undefined;
    case 'bad-crc': {
      const out = Buffer.from(frame);
      if (kind === 'rtu') out[out.length - 1]! ^= 0xff;
      else out.writeUInt16BE(0xbeef, 2); // protocol id must be 0
      return out;
    }
    case 'garbage': {
      // Garbage that cannot be mistaken for a frame start of the unit we answer for.
      const junk = randomBytes(fault.bytes ?? 7).map((b) => (b === frame[kind === 'rtu' ? 0 : 6] ? b ^ 0x55 : b));
      return Buffer.concat([junk, frame]);
    }
    case 'stray-header':
      return kind === 'rtu' ? Buffer.concat([frame.subarray(0, 3), frame]) : frame;
    case 'partial':
      return frame.subarray(0, Math.max(1, frame.length >> 1));
    default:
      return frame;
  }
}
