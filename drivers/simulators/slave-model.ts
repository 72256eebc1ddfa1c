import { encodeValue, registerCount, type ValueType, type WordOrder } from '../modbus/codec.js';
import { FC, MAX_READ_BITS, MAX_READ_REGISTERS, packBits, type Table } from '../modbus/pdu.js';
import { signalValue, type Signal } from './signals.js';

/** What a simulated slave does wrong, switchable at run time. */
export type Fault =
  | { kind: 'none' }
  /** Swallows requests: the master times out. */
  | { kind: 'no-reply' }
  /** Answers every request with this exception code (2 = ILLEGAL DATA ADDRESS, …). */
  | { kind: 'exception'; code: number }
  /** RTU: flips the CRC. TCP: a malformed MBAP header. */
  | { kind: 'bad-crc' }
  /** Sends `bytes` random bytes, then the good reply. */
  | { kind: 'garbage'; bytes?: number }
  /**
   * Sends the first bytes of the reply (unit, function, byte count) and then the whole reply:
   * what a truncated earlier frame or an echo leaves on an RS-485 line. RTU only.
   */
  | { kind: 'stray-header' }
  /** Sends only the first half of the reply. */
  | { kind: 'partial' }
  /** Waits `delayMs` before replying. */
  | { kind: 'slow'; delayMs: number };

/** A register (or bit) whose value follows a signal. */
export interface Binding {
  table: Table;
  address: number;
  type?: ValueType;
  order?: WordOrder;
  /** For strings: registers. */
  count?: number;
  signal: Signal;
}

export type SlaveEvent = { unit: number; fc: number; at: number };

/**
 * The data model of one simulated slave: four tables, signal bindings evaluated at request
 * time, and a fault mode. `handle` turns a request PDU into a reply PDU the way a real slave
 * would (exceptions 1, 2, 3 for bad requests).
 */
export class SlaveModel {
  readonly coils = new Uint8Array(65536);
  readonly discretes = new Uint8Array(65536);
  readonly holding = new Uint16Array(65536);
  readonly input = new Uint16Array(65536);
  fault: Fault = { kind: 'none' };
  private readonly bindings: Binding[] = [];

  bind(binding: Binding): this {
    this.bindings.push(binding);
    return this;
  }

  setFault(fault: Fault): void {
    this.fault = fault;
  }

  /** Writes raw register values (bypassing bindings). */
  setRegisters(table: 'holding' | 'input', address: number, values: readonly number[]): void {
    (table === 'holding' ? this.holding : this.input).set(values, address);
  }

  setBits(table: 'coil' | 'discrete', address: number, values: readonly boolean[]): void {
    (table === 'coil' ? this.coils : this.discretes).set(values.map(Number), address);
  }

  /** Writes a typed value into registers, as a device with that layout would hold it. */
  setValue(table: 'holding' | 'input', address: number, value: number | string | boolean, type: ValueType, order: WordOrder = 'ABCD', count = 1): void {
    const wire = encodeValue(value, type, order, count);
    const regs: number[] = [];
    for (let i = 0; i < wire.length; i += 2) regs.push(wire.readUInt16BE(i));
    this.setRegisters(table, address, regs);
  }

  /** Brings bound registers to their value at time `t`. */
  refresh(t: number): void {
    for (const b of this.bindings) {
      const v = signalValue(b.signal, t);
      if (b.table === 'coil' || b.table === 'discrete') this.setBits(b.table, b.address, [v >= 0.5]);
      else this.setValue(b.table, b.address, v, b.type ?? 'uint16', b.order ?? 'ABCD', b.count ?? registerCount(b.type ?? 'uint16', 1));
    }
  }

  /** The reply PDU to a request PDU at time `t` (ignoring the fault mode). */
  handle(pdu: Buffer, t: number): Buffer {
    const fc = pdu[0]!;
    const ex = (code: number): Buffer => Buffer.from([fc | 0x80, code]);
    if (this.fault.kind === 'exception') return ex(this.fault.code);
    if (![1, 2, 3, 4, 5, 6, 15, 16].includes(fc)) return ex(1);
    if (pdu.length < 5) return ex(3);
    const address = pdu.readUInt16BE(1);
    const countOrValue = pdu.readUInt16BE(3);
    this.refresh(t);
    switch (fc) {
      case FC.readCoils:
      case FC.readDiscreteInputs: {
        if (countOrValue < 1 || countOrValue > MAX_READ_BITS) return ex(3);
        if (address + countOrValue > 65536) return ex(2);
        const table = fc === FC.readCoils ? this.coils : this.discretes;
        const bits = Array.from(table.subarray(address, address + countOrValue), (b) => b !== 0);
        const data = packBits(bits);
        return Buffer.concat([Buffer.from([fc, data.length]), data]);
      }
      case FC.readHoldingRegisters:
      case FC.readInputRegisters: {
        if (countOrValue < 1 || countOrValue > MAX_READ_REGISTERS) return ex(3);
        if (address + countOrValue > 65536) return ex(2);
        const table = fc === FC.readHoldingRegisters ? this.holding : this.input;
        const out = Buffer.alloc(2 + countOrValue * 2);
        out[0] = fc;
        out[1] = countOrValue * 2;
        for (let i = 0; i < countOrValue; i++) out.writeUInt16BE(table[address + i]!, 2 + i * 2);
        return out;
      }
      case FC.writeSingleCoil:
        if (countOrValue !== 0xff00 && countOrValue !== 0) return ex(3);
        this.coils[address] = countOrValue ? 1 : 0;
        return Buffer.from(pdu.subarray(0, 5));
      case FC.writeSingleRegister:
        this.holding[address] = countOrValue;
        return Buffer.from(pdu.subarray(0, 5));
      case FC.writeMultipleCoils: {
        const n = countOrValue;
        if (n < 1 || n > 1968 || address + n > 65536 || pdu.length < 6 + Math.ceil(n / 8)) return ex(3);
        for (let i = 0; i < n; i++) this.coils[address + i] = (pdu[6 + (i >> 3)]! >> (i & 7)) & 1;
        return Buffer.from(pdu.subarray(0, 5));
      }
      case FC.writeMultipleRegisters: {
        const n = countOrValue;
        if (n < 1 || n > 123 || address + n > 65536 || pdu.length < 6 + n * 2) return ex(3);
        for (let i = 0; i < n; i++) this.holding[address + i] = pdu.readUInt16BE(6 + i * 2);
        return Buffer.from(pdu.subarray(0, 5));
      }
      default:
        return ex(1);
    }
  }
}
