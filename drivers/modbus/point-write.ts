import { EdgeError, errorMessage } from '../../agent/core/errors.js';
import type { PointValue } from '../../agent/core/reading.js';
import type { PointConfig } from '../config.js';
import { DeviceError, exceptionError, unavailableError } from '../errors.js';
import { decodePoint, encodePoint } from './codec.js';
import { checkWriteResponse, readRequest, readResponseData, unpackBits, writeRequest } from './pdu.js';

/** Sends one request PDU to the point's unit and resolves with the reply PDU. */
export type SendPdu = (pdu: Buffer) => Promise<Buffer>;

export interface PointWriteDone {
  written: number | boolean | string;
  readBack: PointValue;
  function: number;
}

function refused(message: string): EdgeError {
  return new EdgeError('EDGE_WRITE_REFUSED', message);
}

/**
 * What a write of `value` to `point` would put on the wire, or why it is refused: not
 * writable, outside min/max (engineering units), or not a value the registers can hold.
 * Pure: nothing is sent.
 */
export function planWrite(where: string, point: PointConfig, value: unknown): { pdu: Buffer; written: number | boolean | string; wire: Buffer | undefined } {
  if (!point.writable) throw refused(`${where} is not writable (set "writable": true on the point in the config to allow it)`);
  if (typeof value === 'number' && point.min !== undefined && value < point.min) throw refused(`${where}: ${value} is below its min ${point.min}`);
  if (typeof value === 'number' && point.max !== undefined && value > point.max) throw refused(`${where}: ${value} is above its max ${point.max}`);
  if (point.table === 'coil') {
    const bit = typeof value === 'boolean' ? value : value === 0 || value === 1 ? value === 1 : undefined;
    if (bit === undefined) throw refused(`${where} is a coil: it takes true/false (or 1/0), not ${JSON.stringify(value)}`);
    return { pdu: writeRequest({ table: 'coil', bit }, point.address, point.writeMultiple), written: bit, wire: undefined };
  }
  const enc = encodePoint(value, point);
  if (!enc.ok) throw refused(`${where}: ${enc.reason}`);
  return { pdu: writeRequest({ table: 'holding', wire: enc.wire }, point.address, point.writeMultiple), written: enc.raw, wire: enc.wire };
}

/**
 * Writes one point and reads it back: the write's reply must echo it, and the registers (or
 * the coil) read back must hold exactly what was written, or the write is `EDGE_WRITE_UNVERIFIED`
 * (a device that clamps or ignores a value says so here). Device failures pass through as the
 * transport's `DeviceError`s (an exception names itself: "ILLEGAL DATA ADDRESS (2)").
 */
export async function writeAndVerify(send: SendPdu, unit: number, where: string, point: PointConfig, value: unknown): Promise<PointWriteDone> {
  const plan = planWrite(where, point, value);
  checkWriteResponse(unit, plan.pdu, await send(plan.pdu));
  const count = point.table === 'coil' ? 1 : point.count;
  const read = readRequest(point.table, point.address, count);
  const data = readResponseData(unit, read, await send(read));
  if (point.table === 'coil') {
    const bit = unpackBits(data, 1)[0]!;
    if (bit !== plan.written) throw new EdgeError('EDGE_WRITE_UNVERIFIED', `${where}: wrote ${String(plan.written)} but read back ${String(bit)}`);
    return { written: plan.written, readBack: bit, function: plan.pdu[0]! };
  }
  const readBack = decodePoint(data, point);
  if (!data.equals(plan.wire!)) {
    throw new EdgeError('EDGE_WRITE_UNVERIFIED', `${where}: wrote registers [${hexWords(plan.wire!)}] but read back [${hexWords(data)}] (${JSON.stringify(readBack)})`);
  }
  return { written: plan.written, readBack, function: plan.pdu[0]! };
}

function hexWords(b: Buffer): string {
  const out: string[] = [];
  for (let i = 0; i + 1 < b.length; i += 2) out.push('0x' + b.readUInt16BE(i).toString(16).padStart(4, '0'));
  return out.join(' ');
}

/** A write's failure as the caller reads it: an exception named first, then where; a timeout warns. */
export function writeError(err: unknown, where: string): EdgeError {
  if (err instanceof DeviceError && err.exception) {
    const { code, name } = err.exception;
    const e = exceptionError(0, 0, code, name);
    e.message = `the device refused the write: ${name} (${code}), ${where}`;
    e.cause = err;
    return e;
  }
  if (err instanceof DeviceError && err.timeout) {
    const e = new DeviceError(err.code, `${err.message}; the write may or may not have been applied (${where})`, { cause: err });
    e.timeout = true;
    return e;
  }
  if (err instanceof EdgeError) return err;
  return unavailableError(`${where}: ${errorMessage(err)}`, err);
}

/** A value typed on a command line, as the point's type reads it (a bad one is refused later). */
export function valueFromText(point: PointConfig, text: string): unknown {
  if (point.table === 'coil' || point.type === 'bool') {
    const t = text.trim().toLowerCase();
    return t === 'true' || t === '1' || t === 'on' ? true : t === 'false' || t === '0' || t === 'off' ? false : text;
  }
  if (point.type === 'string') return text;
  return /^\s*[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?\s*$/i.test(text) ? Number(text) : text;
}
