import { afterEach, describe, expect, it } from 'vitest';
import { isEdgeError } from '../../../agent/core/errors.js';
import { encodeValue, VALUE_TYPES, WORD_ORDERS, type ValueType, type WordOrder } from '../../../drivers/modbus/codec.js';
import { ModbusDriver } from '../../../drivers/modbus/driver.js';
import { RtuSlaveSimulator } from '../../../drivers/simulators/rtu-slave.js';
import { SlaveModel } from '../../../drivers/simulators/slave-model.js';
import { TcpSlaveSimulator } from '../../../drivers/simulators/tcp-slave.js';
import type { SlaveEvent } from '../../../drivers/simulators/slave-model.js';
import { usePtyPairs } from '../support/pty.js';
import { RecordingSink } from '../support/sink.js';

const ptyPair = usePtyPairs();
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A value each numeric type holds exactly, and one that needs the type's whole width. */
const SAMPLE: Record<Exclude<ValueType, 'bool' | 'string'>, number> = {
  int16: -12345,
  uint16: 54321,
  int32: -123456789,
  uint32: 3_000_000_001,
  float32: -1234.5,
  float64: Math.PI * 1e10,
};

const numericTypes = VALUE_TYPES.filter((t): t is keyof typeof SAMPLE => t in SAMPLE);
const layouts = numericTypes.flatMap((type) => WORD_ORDERS.map((order) => ({ type, order })));

function words(model: SlaveModel, address: number, n: number): number[] {
  return Array.from(model.holding.subarray(address, address + n));
}

function wireWords(value: number | string | boolean, type: ValueType, order: WordOrder, count = 1): number[] {
  const b = encodeValue(value, type, order, count);
  return Array.from({ length: b.length / 2 }, (_, i) => b.readUInt16BE(i * 2));
}

async function tcpDriver(model: SlaveModel, points: unknown[]): Promise<{ driver: ModbusDriver; sim: TcpSlaveSimulator }> {
  const sim = await TcpSlaveSimulator.listen({ slaves: { 1: model } });
  cleanups.push(() => sim.close());
  const driver = new ModbusDriver({ name: 'plc', devices: [{ name: 'boiler', transport: { kind: 'tcp', host: sim.host, port: sim.port }, unitId: 1, pollMs: 60_000, timeoutMs: 300, points }] });
  cleanups.push(() => driver.stop());
  const rec = new RecordingSink();
  const firstPoll = rec.next();
  await driver.start(rec.sink);
  await firstPoll; // the next poll is a minute away: every request from here on is a write's
  return { driver, sim };
}

describe('ModbusDriver.writePoint against the TCP simulator', () => {
  it('round-trips every numeric type in every byte/word order, scale and offset undone', async () => {
    const model = new SlaveModel();
    const points = layouts.map(({ type, order }, i) => ({ name: `${type}-${order}`, table: 'holding', address: i * 4, type, order, writable: true }));
    points.push({ name: 'scaled', table: 'holding', address: 200, type: 'int16', order: 'ABCD', writable: true, scale: 0.1, offset: -10 } as never);
    const { driver } = await tcpDriver(model, points);
    for (const [i, { type, order }] of layouts.entries()) {
      const r = await driver.writePoint({ device: 'boiler', point: `${type}-${order}`, value: SAMPLE[type], by: 'test' });
      expect(r.readBack, `${type} ${order}`).toBe(SAMPLE[type]);
      expect(words(model, i * 4, r.function === 6 ? 1 : (wireWords(SAMPLE[type], type, order).length)), `${type} ${order} registers`).toEqual(wireWords(SAMPLE[type], type, order));
    }
    // 21.5 °C on a device holding tenths with a −10 offset: raw (21.5 + 10) / 0.1 = 315.
    const scaled = await driver.writePoint({ device: 'boiler', point: 'scaled', value: 21.5, by: 'test' });
    expect(model.holding[200]).toBe(315);
    expect(scaled).toMatchObject({ written: 315, function: 6 });
    expect(scaled.readBack).toBeCloseTo(21.5, 9);
  });

  it('picks FC05/FC06 for one coil or register, FC15/FC16 when asked or for wider values, and writes strings', async () => {
    const model = new SlaveModel();
    const { driver, sim } = await tcpDriver(model, [
      { name: 'pump', table: 'coil', address: 3, writable: true },
      { name: 'fan', table: 'coil', address: 4, writable: true, writeMultiple: true },
      { name: 'sp', table: 'holding', address: 10, writable: true },
      { name: 'sp16', table: 'holding', address: 11, writable: true, writeMultiple: true },
      { name: 'f', table: 'holding', address: 12, type: 'float32', writable: true },
      { name: 'tag', table: 'holding', address: 20, type: 'string', count: 4, order: 'BADC', writable: true },
    ]);
    const fcs: number[] = [];
    sim.on('request', (e: SlaveEvent) => fcs.push(e.fc));
    const cases: Array<[string, unknown, number, unknown]> = [
      ['pump', true, 5, true],
      ['pump', false, 5, false],
      ['fan', 1, 15, true],
      ['sp', 7, 6, 7],
      ['sp16', 8, 16, 8],
      ['f', 0.1, 16, Math.fround(0.1)],
      ['tag', 'AB-7', 16, 'AB-7'],
    ];
    for (const [point, value, fc, readBack] of cases) {
      const r = await driver.writePoint({ device: 'boiler', point, value, by: 'test' });
      expect(r, point).toMatchObject({ function: fc, readBack });
    }
    expect(fcs).toEqual([5, 1, 5, 1, 15, 1, 6, 3, 16, 3, 16, 3, 16, 3]);
    expect(model.coils[4]).toBe(1);
    expect(model.holding[11]).toBe(8);
    expect(words(model, 20, 2)).toEqual([0x4241, 0x372d]); // "AB-7" byte-swapped within words
  });

  it('refuses a non-writable point, an out-of-range value and a value the type cannot hold, sending nothing', async () => {
    const model = new SlaveModel();
    const { driver, sim } = await tcpDriver(model, [
      { name: 'ro', table: 'holding', address: 0 },
      { name: 'sp', table: 'holding', address: 1, writable: true, min: 5, max: 30, scale: 0.5 },
      { name: 'u', table: 'holding', address: 2, writable: true },
      { name: 'c', table: 'coil', address: 0, writable: true },
    ]);
    let requests = 0;
    sim.on('request', () => requests++);
    const refusals: Array<[string, unknown, RegExp]> = [
      ['ro', 1, /not writable/],
      ['sp', 31, /above its max 30/],
      ['sp', 4.5, /below its min 5/],
      ['sp', '12', /takes a finite number/],
      ['u', 65536, /outside uint16 \(0\.\.65535\)/],
      ['u', -1, /outside uint16/],
      ['c', 'on', /true\/false/],
    ];
    for (const [point, value, message] of refusals) {
      const err = await driver.writePoint({ device: 'boiler', point, value, by: 'test' }).then(() => undefined, (e: unknown) => e);
      expect(isEdgeError(err, 'EDGE_WRITE_REFUSED'), `${point}=${String(value)}: ${String(err)}`).toBe(true);
      expect((err as Error).message).toMatch(message);
    }
    expect(requests).toBe(0);
    expect(driver.lastWrites().find((w) => w.point === 'sp')).toMatchObject({ by: 'test', outcome: 'refused', requested: '12', error: { code: 'EDGE_WRITE_REFUSED' } });
    await expect(driver.writePoint({ device: 'nope', point: 'sp', value: 1, by: 'test' })).rejects.toMatchObject({ code: 'EDGE_USAGE' });
  });

  it('names a Modbus exception, and flags a value the device did not keep as unverified', async () => {
    const model = new SlaveModel();
    model.bind({ table: 'holding', address: 5, signal: { kind: 'constant', value: 99 } }); // the device overwrites it
    const { driver } = await tcpDriver(model, [
      { name: 'sp', table: 'holding', address: 1, writable: true },
      { name: 'clamped', table: 'holding', address: 5, writable: true },
    ]);
    const unverified = await driver.writePoint({ device: 'boiler', point: 'clamped', value: 12, by: 'test' }).catch((e: unknown) => e);
    expect(unverified).toMatchObject({ code: 'EDGE_WRITE_UNVERIFIED' });
    expect((unverified as Error).message).toContain('read back [0x0063]');
    model.setFault({ kind: 'exception', code: 2 });
    const ex = await driver.writePoint({ device: 'boiler', point: 'sp', value: 3, by: 'op' }).catch((e: unknown) => e);
    expect(ex).toMatchObject({ code: 'EDGE_DEVICE_EXCEPTION', exception: { code: 2, name: 'ILLEGAL DATA ADDRESS' } });
    expect((ex as Error).message).toMatch(/^the device refused the write: ILLEGAL DATA ADDRESS \(2\), device "boiler" point "sp"/);
    expect(driver.lastWrites().map((w) => [w.point, w.outcome])).toEqual([['clamped', 'failed'], ['sp', 'failed']]);
  });
});

describe('ModbusDriver.writePoint on an RTU line (pty), between polls', () => {
  it('takes its turn on the bus with the polls and round-robins with them', async () => {
    const pair = await ptyPair();
    const model = new SlaveModel();
    model.setRegisters('holding', 0, [1, 2]);
    const sim = await RtuSlaveSimulator.open({ path: pair.b, slaves: { 3: model } });
    cleanups.push(() => sim.close());
    const driver = new ModbusDriver({
      devices: [{ name: 'rtu', transport: { kind: 'rtu', path: pair.a }, unitId: 3, pollMs: 5, timeoutMs: 500, points: [{ name: 'a', table: 'holding', address: 0 }, { name: 'sp', table: 'holding', address: 1, type: 'int16', order: 'BADC', writable: true }] }],
    });
    cleanups.push(() => driver.stop());
    const rec = new RecordingSink();
    await driver.start(rec.sink);
    await rec.next();
    const results = await Promise.all([-2, 300, -400].map((value) => driver.writePoint({ device: 'rtu', point: 'sp', value, by: 'test' })));
    expect(results.map((r) => r.readBack)).toEqual([-2, 300, -400]);
    expect(model.holding[1]).toBe(wireWords(-400, 'int16', 'BADC')[0]);
    const polled = await rec.next((b) => b.every((r) => r.quality === 'good'));
    expect(polled.find((r) => r.point === 'sp')!.value).toBe(-400);
    expect(driver.health().sources.rtu).toMatchObject({ errors: 0 });
  });
});
