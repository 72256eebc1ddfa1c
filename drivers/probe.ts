import { EdgeError } from '../agent/core/errors.js';
import { DeviceError } from './errors.js';
import { decodeValue, registerCount, VALUE_TYPES, WORD_ORDERS, type ValueType, type WordOrder } from './modbus/codec.js';
import { isBitTable, MAX_READ_BITS, MAX_READ_REGISTERS, readRequest, readResponseData, unpackBits, type Table } from './modbus/pdu.js';
import { RtuTransport } from './modbus/rtu-transport.js';
import { TcpTransport } from './modbus/tcp-transport.js';
import type { ModbusTransport } from './modbus/transport.js';

/**
 * The commissioning probe behind `edge-agent modbus read|scan`: one-shot requests to a real
 * device without a running agent. Options are checked here with technician-readable
 * `EDGE_USAGE` errors; device failures surface as `DeviceError`s that name unit and port.
 */
export interface ProbeTarget {
  port?: string;
  baudRate?: number;
  parity?: 'none' | 'even' | 'odd';
  dataBits?: 7 | 8;
  stopBits?: 1 | 2;
  host?: string;
  tcpPort?: number;
  timeoutMs?: number;
}

export interface ProbeReadOptions extends ProbeTarget {
  unit: number;
  table: Table;
  address: number;
  /** Values to read (for `string`: registers). */
  count: number;
  type?: ValueType;
  order?: WordOrder;
}

export interface ProbeValue {
  address: number;
  value: number | boolean | string;
  /** The raw registers (absent for coils and discrete inputs). */
  registers?: number[];
}

export interface ProbeReadResult {
  where: string;
  unit: number;
  table: Table;
  type: ValueType;
  order: WordOrder;
  values: ProbeValue[];
}

function usage(message: string): EdgeError {
  return new EdgeError('EDGE_USAGE', message);
}

export function probeTransport(t: ProbeTarget): ModbusTransport {
  if (t.port && t.host) throw usage('give either --port (RTU) or --host (TCP), not both');
  if (!t.port && !t.host) throw usage('give --port P for a serial (RTU) device or --host H for Modbus TCP');
  if (t.port) {
    if (t.parity && !['none', 'even', 'odd'].includes(t.parity)) throw usage(`--parity must be none, even or odd, not '${t.parity}'`);
    return new RtuTransport({ path: t.port, baudRate: t.baudRate ?? 9600, parity: t.parity ?? 'none', dataBits: t.dataBits ?? 8, stopBits: t.stopBits ?? 1, reopen: false });
  }
  return new TcpTransport({ host: t.host!, port: t.tcpPort ?? 502, reopen: false, connectTimeoutMs: t.timeoutMs ?? 1000 });
}

function checkInt(name: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) throw usage(`${name} must be a whole number from ${min} to ${max}, not '${v}'`);
}

export async function probeRead(o: ProbeReadOptions): Promise<ProbeReadResult> {
  checkInt('--unit', o.unit, 0, 255);
  checkInt('--address', o.address, 0, 65535);
  if (!['holding', 'input', 'coil', 'discrete'].includes(o.table)) throw usage(`--table must be holding, input, coil or discrete, not '${o.table}'`);
  const bits = isBitTable(o.table);
  const type = o.type ?? (bits ? 'bool' : 'uint16');
  const order = o.order ?? 'ABCD';
  if (!VALUE_TYPES.includes(type)) throw usage(`--type must be one of ${VALUE_TYPES.join(', ')}, not '${type}'`);
  if (!WORD_ORDERS.includes(order)) throw usage(`--order must be one of ${WORD_ORDERS.join(', ')}, not '${order}'`);
  if (bits && type !== 'bool') throw usage(`a ${o.table} holds bits: --type must be bool (or left out)`);
  const per = type === 'string' ? o.count : registerCount(type);
  const n = type === 'string' ? 1 : o.count;
  const span = bits ? o.count : per * n;
  checkInt('--count', o.count, 1, bits ? MAX_READ_BITS : MAX_READ_REGISTERS);
  if (span > (bits ? MAX_READ_BITS : MAX_READ_REGISTERS)) throw usage(`--count ${o.count} of ${type} needs ${span} registers; one read carries at most ${MAX_READ_REGISTERS}`);
  if (o.address + span > 65536) throw usage(`--address ${o.address} + ${span} runs past 65535`);
  const transport = probeTransport(o);
  try {
    await transport.open();
    const req = readRequest(o.table, o.address, span);
    const data = readResponseData(o.unit, req, await transport.request(o.unit, req, o.timeoutMs ?? 1000));
    const values: ProbeValue[] = [];
    if (bits) {
      unpackBits(data, span).forEach((b, i) => values.push({ address: o.address + i, value: b }));
    } else {
      for (let i = 0; i < n; i++) {
        const wire = data.subarray(i * per * 2, (i + 1) * per * 2);
        const registers = Array.from({ length: per }, (_, k) => wire.readUInt16BE(k * 2));
        values.push({ address: o.address + i * per, value: decodeValue(wire, type, order), registers });
      }
    }
    return { where: transport.description, unit: o.unit, table: o.table, type, order, values };
  } finally {
    await transport.close();
  }
}

export interface ProbeScanOptions extends ProbeTarget {
  from?: number;
  to?: number;
  /** Called as each unit is tried (progress). */
  onUnit?: (unit: number, answer: ScanAnswer | undefined) => void;
}

export interface ScanAnswer {
  unit: number;
  /** `ok` for a normal reply, or the exception it answered with (it is alive either way). */
  reply: 'ok' | { exception: number; name: string };
}

/** Asks every unit in range for holding register 0; a reply of any kind means it is there. */
export async function probeScan(o: ProbeScanOptions): Promise<ScanAnswer[]> {
  const from = o.from ?? 1;
  const to = o.to ?? (o.host ? 255 : 247);
  checkInt('--from', from, 0, 255);
  checkInt('--to', to, from, 255);
  const transport = probeTransport(o);
  const found: ScanAnswer[] = [];
  try {
    await transport.open();
    const req = readRequest('holding', 0, 1);
    for (let unit = from; unit <= to; unit++) {
      let answer: ScanAnswer | undefined;
      try {
        await transport.request(unit, req, o.timeoutMs ?? 100);
        answer = { unit, reply: 'ok' };
      } catch (err) {
        if (!(err instanceof DeviceError)) throw err;
        if (err.exception) answer = { unit, reply: { exception: err.exception.code, name: err.exception.name } };
        else if (err.disconnected) throw err;
      }
      if (answer) found.push(answer);
      o.onUnit?.(unit, answer);
    }
    return found;
  } finally {
    await transport.close();
  }
}
