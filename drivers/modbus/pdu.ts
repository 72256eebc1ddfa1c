import { exceptionError, frameError } from '../errors.js';

/** The four Modbus data tables, in the protocol's own words. */
export type Table = 'coil' | 'discrete' | 'holding' | 'input';

const READ_FUNCTION: Record<Table, number> = { coil: 1, discrete: 2, holding: 3, input: 4 };

export const FC = {
  readCoils: 1,
  readDiscreteInputs: 2,
  readHoldingRegisters: 3,
  readInputRegisters: 4,
  writeSingleCoil: 5,
  writeSingleRegister: 6,
  writeMultipleCoils: 15,
  writeMultipleRegisters: 16,
} as const;

/** Protocol limits for one read request (Modbus Application Protocol v1.1b3 §6). */
export const MAX_READ_REGISTERS = 125;
export const MAX_READ_BITS = 2000;

const EXCEPTION_NAMES: Record<number, string> = {
  1: 'ILLEGAL FUNCTION',
  2: 'ILLEGAL DATA ADDRESS',
  3: 'ILLEGAL DATA VALUE',
  4: 'SERVER DEVICE FAILURE',
  5: 'ACKNOWLEDGE',
  6: 'SERVER DEVICE BUSY',
  8: 'MEMORY PARITY ERROR',
  10: 'GATEWAY PATH UNAVAILABLE',
  11: 'GATEWAY TARGET DEVICE FAILED TO RESPOND',
};

export function exceptionName(code: number): string {
  return EXCEPTION_NAMES[code] ?? `UNKNOWN EXCEPTION ${code}`;
}

export function isBitTable(table: Table): boolean {
  return table === 'coil' || table === 'discrete';
}

export function readRequest(table: Table, address: number, count: number): Buffer {
  const pdu = Buffer.alloc(5);
  pdu[0] = READ_FUNCTION[table];
  pdu.writeUInt16BE(address, 1);
  pdu.writeUInt16BE(count, 3);
  return pdu;
}

/**
 * Checks a response PDU against its request: throws a `DeviceError` (exception or frame) when
 * it is an exception or does not fit; otherwise returns the data bytes (registers big-endian,
 * or packed bits LSB first).
 */
export function readResponseData(unit: number, request: Buffer, response: Buffer): Buffer {
  const fc = request[0]!;
  if (response.length >= 2 && response[0] === (fc | 0x80)) {
    throw exceptionError(unit, fc, response[1]!, exceptionName(response[1]!));
  }
  if (response[0] !== fc) throw frameError(`unit ${unit}: reply has function ${response[0]}, expected ${fc}`);
  const count = request.readUInt16BE(3);
  const expected = fc <= 2 ? Math.ceil(count / 8) : count * 2;
  if (response[1] !== expected || response.length !== expected + 2) {
    throw frameError(`unit ${unit}: reply carries ${response[1]} bytes, expected ${expected}`);
  }
  return response.subarray(2);
}

/** Unpacks `count` bits (LSB first) from Modbus bit data. */
export function unpackBits(data: Uint8Array, count: number): boolean[] {
  const out: boolean[] = [];
  for (let i = 0; i < count; i++) out.push(((data[i >> 3]! >> (i & 7)) & 1) === 1);
  return out;
}

export function packBits(bits: readonly boolean[]): Buffer {
  const out = Buffer.alloc(Math.ceil(bits.length / 8));
  bits.forEach((b, i) => {
    if (b) out[i >> 3]! |= 1 << (i & 7);
  });
  return out;
}

/** Protocol limits for one write request (§6.11, §6.12). */
export const MAX_WRITE_REGISTERS = 123;
export const MAX_WRITE_BITS = 1968;

/**
 * The request that writes one point: FC05/FC06 for a single coil or register unless `multiple`
 * (a device that only takes FC15/FC16), FC15/FC16 otherwise. `wire` holds the registers'
 * bytes as they go on the wire; `bit` the coil's value.
 */
export function writeRequest(target: { table: 'coil'; bit: boolean } | { table: 'holding'; wire: Buffer }, address: number, multiple = false): Buffer {
  if (target.table === 'coil') {
    if (!multiple) {
      const pdu = Buffer.alloc(5);
      pdu[0] = FC.writeSingleCoil;
      pdu.writeUInt16BE(address, 1);
      pdu.writeUInt16BE(target.bit ? 0xff00 : 0x0000, 3);
      return pdu;
    }
    const pdu = Buffer.alloc(7);
    pdu[0] = FC.writeMultipleCoils;
    pdu.writeUInt16BE(address, 1);
    pdu.writeUInt16BE(1, 3);
    pdu[5] = 1;
    pdu[6] = target.bit ? 1 : 0;
    return pdu;
  }
  const words = target.wire.length >> 1;
  if (words === 0 || words > MAX_WRITE_REGISTERS || target.wire.length % 2 !== 0) throw new TypeError(`a register write carries 1..${MAX_WRITE_REGISTERS} whole registers`);
  if (words === 1 && !multiple) {
    const pdu = Buffer.alloc(5);
    pdu[0] = FC.writeSingleRegister;
    pdu.writeUInt16BE(address, 1);
    target.wire.copy(pdu, 3);
    return pdu;
  }
  const pdu = Buffer.alloc(6 + target.wire.length);
  pdu[0] = FC.writeMultipleRegisters;
  pdu.writeUInt16BE(address, 1);
  pdu.writeUInt16BE(words, 3);
  pdu[5] = target.wire.length;
  target.wire.copy(pdu, 6);
  return pdu;
}

/**
 * Checks a write's reply: an exception becomes a `DeviceError` naming it; FC05/FC06 must echo
 * the request, FC15/FC16 its address and quantity (§6.5, §6.6, §6.11, §6.12).
 */
export function checkWriteResponse(unit: number, request: Buffer, response: Buffer): void {
  const fc = request[0]!;
  if (response.length >= 2 && response[0] === (fc | 0x80)) {
    throw exceptionError(unit, fc, response[1]!, exceptionName(response[1]!));
  }
  if (response.length !== 5 || !response.equals(request.subarray(0, 5))) {
    throw frameError(`unit ${unit}: reply to function ${fc} (${response.toString('hex')}) does not echo the request (${request.subarray(0, 5).toString('hex')})`);
  }
}
