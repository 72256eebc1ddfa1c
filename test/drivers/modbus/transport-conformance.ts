import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EventEmitter } from 'node:events';
import { DeviceError } from '../../../drivers/errors.js';
import { decodeValue } from '../../../drivers/modbus/codec.js';
import { readRequest, readResponseData, unpackBits } from '../../../drivers/modbus/pdu.js';
import type { ModbusTransport } from '../../../drivers/modbus/transport.js';
import { SlaveModel } from '../../../drivers/simulators/slave-model.js';
import { nextEvent } from '../support/events.js';

/** What a transport under test is wired to: a simulated bus with unit 1 alive, unit 9 dead. */
export interface TransportFixture {
  transport: ModbusTransport;
  /** The simulator, emitting `request` and `reply` events. */
  simulator: EventEmitter;
  model: SlaveModel;
  close(): Promise<void>;
}

export type TransportFactory = (slaves: Map<number, SlaveModel>) => Promise<TransportFixture>;

const UNIT = 1;
const DEAD = 9;
const T = 150; // request timeout in the fault cases

async function rejection(p: Promise<unknown>): Promise<DeviceError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(DeviceError);
    return err as DeviceError;
  }
  throw new Error('expected the request to fail, but it resolved');
}

/**
 * The contract of `ModbusTransport` (see its TSDoc), run against every implementation through
 * a factory, in the way abstract-level runs one suite against every store.
 */
export function transportConformance(name: string, factory: TransportFactory): void {
  describe(`ModbusTransport conformance: ${name}`, () => {
    let fx: TransportFixture;
    let model: SlaveModel;

    beforeEach(async () => {
      model = new SlaveModel();
      fx = await factory(new Map([[UNIT, model]]));
      await fx.transport.open();
    });
    afterEach(async () => {
      await fx.transport.close();
      await fx.close();
    });

    const read = (table: 'coil' | 'discrete' | 'holding' | 'input', address: number, count: number, timeout = 1000): Promise<Buffer> => {
      const req = readRequest(table, address, count);
      return fx.transport.request(UNIT, req, timeout).then((pdu) => readResponseData(UNIT, req, pdu));
    };

    it('reads holding and input registers as the slave holds them', async () => {
      model.setRegisters('holding', 100, [1, 2, 3, 0xffff, 0x8000]);
      model.setRegisters('input', 7, [42]);
      const data = await read('holding', 100, 5);
      expect([0, 1, 2, 3, 4].map((i) => data.readUInt16BE(i * 2))).toEqual([1, 2, 3, 0xffff, 0x8000]);
      expect((await read('input', 7, 1)).readUInt16BE(0)).toBe(42);
    });

    it('reads coils and discrete inputs bit by bit', async () => {
      const bits = [true, false, true, true, false, false, false, true, true, false, true];
      model.setBits('coil', 3, bits);
      model.setBits('discrete', 0, [false, true]);
      expect(unpackBits(await read('coil', 3, bits.length), bits.length)).toEqual(bits);
      expect(unpackBits(await read('discrete', 0, 2), 2)).toEqual([false, true]);
    });

    it('carries a 125-register block and a word-swapped float', async () => {
      model.setRegisters('holding', 0, Array.from({ length: 125 }, (_, i) => i * 3));
      const data = await read('holding', 0, 125);
      expect(data.readUInt16BE(124 * 2)).toBe(124 * 3);
      model.setValue('holding', 200, 3.25, 'float32', 'CDAB');
      expect(decodeValue(await read('holding', 200, 2), 'float32', 'CDAB')).toBe(3.25);
    });

    it('turns an exception reply into EDGE_DEVICE_EXCEPTION with code and name', async () => {
      const e1 = await rejection(read('holding', 65535, 2));
      expect(e1.code).toBe('EDGE_DEVICE_EXCEPTION');
      expect(e1.exception).toEqual({ code: 2, name: 'ILLEGAL DATA ADDRESS' });
      model.setFault({ kind: 'exception', code: 6 });
      const e2 = await rejection(read('holding', 0, 1));
      expect(e2.exception).toEqual({ code: 6, name: 'SERVER DEVICE BUSY' });
    });

    it('times out on a unit that never answers, naming the unit and where', async () => {
      const e = await rejection(fx.transport.request(DEAD, readRequest('holding', 0, 1), T));
      expect(e.code).toBe('EDGE_DEVICE_TIMEOUT');
      expect(e.timeout).toBe(true);
      expect(e.message).toContain(`unit ${DEAD}`);
      expect(e.message).toContain(fx.transport.description);
    });

    it('never resolves with a damaged reply (bad CRC / bad header)', async () => {
      model.setFault({ kind: 'bad-crc' });
      const e = await rejection(read('holding', 0, 4, T));
      expect(['EDGE_DEVICE_CRC', 'EDGE_DEVICE_FRAME', 'EDGE_DEVICE_UNAVAILABLE']).toContain(e.code);
      model.setFault({ kind: 'none' });
      model.setRegisters('holding', 0, [9, 8, 7, 6]);
      expect((await read('holding', 0, 4)).readUInt16BE(6)).toBe(6);
    });

    it('reports a partial reply as a frame error or timeout, then recovers', async () => {
      model.setFault({ kind: 'partial' });
      const e = await rejection(read('holding', 0, 10, T));
      expect(['EDGE_DEVICE_FRAME', 'EDGE_DEVICE_TIMEOUT']).toContain(e.code);
      model.setFault({ kind: 'none' });
      model.setRegisters('holding', 0, [5]);
      expect((await read('holding', 0, 1)).readUInt16BE(0)).toBe(5);
    });

    it('gets the right data after stray bytes (resync) or reports a frame error, then recovers', async () => {
      model.setRegisters('holding', 10, [1234, 5678]);
      model.setFault({ kind: 'garbage', bytes: 9 });
      try {
        const data = await read('holding', 10, 2, T);
        expect(data.readUInt16BE(2)).toBe(5678);
      } catch (err) {
        expect((err as DeviceError).code).toMatch(/EDGE_DEVICE_(FRAME|UNAVAILABLE)/);
      }
      model.setFault({ kind: 'none' });
      expect((await read('holding', 10, 2)).readUInt16BE(0)).toBe(1234);
    });

    it('finds the reply behind a stray copy of its own header (resync within one frame)', async () => {
      model.setRegisters('holding', 20, [4321, 8765]);
      model.setFault({ kind: 'stray-header' });
      const data = await read('holding', 20, 2, 500);
      expect([data.readUInt16BE(0), data.readUInt16BE(2)]).toEqual([4321, 8765]);
    });

    it('does not take a late reply as the answer to the next request', async () => {
      model.setRegisters('holding', 0, [111, 222, 333]);
      model.setFault({ kind: 'slow', delayMs: T + 100 });
      const late = nextEvent(fx.simulator, 'reply');
      const e = await rejection(read('holding', 0, 3, T));
      expect(e.code).toBe('EDGE_DEVICE_TIMEOUT');
      model.setFault({ kind: 'none' });
      await late; // the late reply is on its way while we ask again
      const data = await read('holding', 1, 1);
      expect(data.readUInt16BE(0)).toBe(222);
      expect(fx.transport.stats().strayBytes).toBeGreaterThan(0);
    });

    it('answers concurrent requests each with its own data', async () => {
      model.setRegisters('input', 0, Array.from({ length: 20 }, (_, i) => 1000 + i));
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => read('input', i, 1 + i)));
      results.forEach((data, i) => expect(data.readUInt16BE(0)).toBe(1000 + i));
    });

    it('fails pending and later requests as disconnected once closed', async () => {
      const pending = rejection(fx.transport.request(DEAD, readRequest('holding', 0, 1), 5000));
      await fx.transport.close();
      const e = await pending;
      expect(e.disconnected).toBe(true);
      const after = await rejection(read('holding', 0, 1));
      expect(after.code).toBe('EDGE_DEVICE_UNAVAILABLE');
    });
  });
}
