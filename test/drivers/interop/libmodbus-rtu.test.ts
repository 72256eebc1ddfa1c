import { afterEach, describe, expect, it } from 'vitest';
import type { Reading } from '../../../agent/core/reading.js';
import { ModbusDriver } from '../../../drivers/modbus/driver.js';
import { usePtyPairs } from '../support/pty.js';
import { RecordingSink } from '../support/sink.js';
import { startLibmodbusRtuSlave, type LibmodbusWrite } from './libmodbus-rtu-slave.js';

const ptyPair = usePtyPairs();
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * The registers each value must leave on the device, worked out by hand from the IEEE 754 and
 * two's-complement bit patterns (not by our codec): 123456.0f is 0x47F12000, π is
 * 0x400921FB54442D18, 0x12345678 is 305419896.
 */
const EXPECTED: Array<{ type: string; order: string; value: number | string; words: string[]; count?: number }> = [
  { type: 'int16', order: 'ABCD', value: -2, words: ['fffe'] },
  { type: 'int16', order: 'BADC', value: -2, words: ['feff'] },
  { type: 'uint16', order: 'ABCD', value: 0x1234, words: ['1234'] },
  { type: 'uint16', order: 'DCBA', value: 0x1234, words: ['3412'] },
  { type: 'int32', order: 'ABCD', value: -2, words: ['ffff', 'fffe'] },
  { type: 'int32', order: 'CDAB', value: -2, words: ['fffe', 'ffff'] },
  { type: 'int32', order: 'BADC', value: -2, words: ['ffff', 'feff'] },
  { type: 'int32', order: 'DCBA', value: -2, words: ['feff', 'ffff'] },
  { type: 'uint32', order: 'ABCD', value: 305419896, words: ['1234', '5678'] },
  { type: 'uint32', order: 'CDAB', value: 305419896, words: ['5678', '1234'] },
  { type: 'uint32', order: 'BADC', value: 305419896, words: ['3412', '7856'] },
  { type: 'uint32', order: 'DCBA', value: 305419896, words: ['7856', '3412'] },
  { type: 'float32', order: 'ABCD', value: 123456, words: ['47f1', '2000'] },
  { type: 'float32', order: 'CDAB', value: 123456, words: ['2000', '47f1'] },
  { type: 'float32', order: 'BADC', value: 123456, words: ['f147', '0020'] },
  { type: 'float32', order: 'DCBA', value: 123456, words: ['0020', 'f147'] },
  { type: 'float64', order: 'ABCD', value: Math.PI, words: ['4009', '21fb', '5444', '2d18'] },
  { type: 'float64', order: 'CDAB', value: Math.PI, words: ['2d18', '5444', '21fb', '4009'] },
  { type: 'float64', order: 'BADC', value: Math.PI, words: ['0940', 'fb21', '4454', '182d'] },
  { type: 'float64', order: 'DCBA', value: Math.PI, words: ['182d', '4454', 'fb21', '0940'] },
  { type: 'string', order: 'ABCD', value: 'AB-7', words: ['4142', '2d37'], count: 2 },
  { type: 'string', order: 'BADC', value: 'AB-7', words: ['4241', '372d'], count: 2 },
];

describe('writes to a libmodbus RTU slave (pty)', () => {
  it('every type and order lands as the bytes it should and reads back; coils both ways; an exception is named', async () => {
    const pair = await ptyPair();
    const slave = await startLibmodbusRtuSlave(pair.b, 7);
    cleanups.push(slave.close);
    const points: unknown[] = EXPECTED.map((e, i) => ({ name: `${e.type}-${e.order}`, table: 'holding', address: i * 4, type: e.type, order: e.order, writable: true, ...(e.count ? { count: e.count } : {}) }));
    points.push({ name: 'scaled', table: 'holding', address: 96, type: 'int16', scale: 0.1, offset: -10, writable: true, min: -10, max: 50 });
    points.push({ name: 'pump', table: 'coil', address: 3, writable: true }, { name: 'fan', table: 'coil', address: 5, writable: true, writeMultiple: true });
    points.push({ name: 'beyond', table: 'holding', address: 150, writable: true });
    const driver = new ModbusDriver({ name: 'plc', devices: [{ name: 'lm', transport: { kind: 'rtu', path: pair.a }, unitId: 7, pollMs: 600_000, timeoutMs: 500, maxGap: 0, points }] });
    cleanups.push(() => driver.stop());
    const rec = new RecordingSink();
    const first = rec.next();
    await driver.start(rec.sink);
    await first;
    const write = async (point: string, value: unknown): Promise<{ answer: unknown; seen: LibmodbusWrite }> => {
      const seen = new Promise<LibmodbusWrite>((resolve) => slave.writes.once('write', resolve));
      const answer = await driver.writePoint({ device: 'lm', point, value, by: 'test' });
      return { answer, seen: await seen };
    };
    for (const [i, e] of EXPECTED.entries()) {
      const { answer, seen } = await write(`${e.type}-${e.order}`, e.value);
      expect(seen, `${e.type} ${e.order}`).toEqual({ kind: 'W', fc: e.words.length === 1 ? 6 : 16, address: i * 4, values: e.words });
      expect(answer, `${e.type} ${e.order}`).toMatchObject({ readBack: e.type === 'float32' ? Math.fround(e.value as number) : e.value });
    }
    const scaled = await write('scaled', 21.5);
    expect(scaled.seen.values).toEqual(['013b']); // (21.5 + 10) / 0.1 = 315
    expect(await write('pump', true)).toMatchObject({ seen: { kind: 'C', fc: 5, address: 3, values: ['1'] }, answer: { readBack: true } });
    expect(await write('pump', false)).toMatchObject({ seen: { fc: 5, values: ['0'] }, answer: { readBack: false } });
    expect(await write('fan', true)).toMatchObject({ seen: { kind: 'C', fc: 15, address: 5, values: ['1'] }, answer: { readBack: true, function: 15 } });
    await expect(driver.writePoint({ device: 'lm', point: 'beyond', value: 1, by: 'test' })).rejects.toMatchObject({
      code: 'EDGE_DEVICE_EXCEPTION',
      message: expect.stringMatching(/^the device refused the write: ILLEGAL DATA ADDRESS \(2\)/),
    });
    await expect(driver.writePoint({ device: 'lm', point: 'scaled', value: 51, by: 'test' })).rejects.toMatchObject({ code: 'EDGE_WRITE_REFUSED' });
  });
});

/** Polls a libmodbus slave (unit 7) beside a unit that never answers (9) on one line; counts unit 7's polls. */
async function livePolls(quietAfterNoReplyMs: number | undefined, polls: number): Promise<{ good: number; bad: Reading[] }> {
  const pair = await ptyPair();
  const slave = await startLibmodbusRtuSlave(pair.b, 7);
  cleanups.push(slave.close);
  const transport = { kind: 'rtu' as const, path: pair.a, ...(quietAfterNoReplyMs === undefined ? {} : { quietAfterNoReplyMs }) };
  const point = [{ name: 'v', table: 'holding' as const, address: 0 }];
  const driver = new ModbusDriver({
    devices: [
      { name: 'dead', transport, unitId: 9, pollMs: 500, timeoutMs: 300, retries: 0, points: point },
      { name: 'live', transport, unitId: 7, pollMs: 500, timeoutMs: 300, retries: 0, points: point },
    ],
  });
  cleanups.push(() => driver.stop());
  const rec = new RecordingSink();
  const live: Reading[] = [];
  const enough = rec.next((b) => {
    if (b[0]!.source === 'live') live.push(...b);
    return live.length >= polls;
  }, 60_000);
  await driver.start(rec.sink);
  await enough;
  return { good: live.filter((r) => r.quality === 'good').length, bad: live.filter((r) => r.quality === 'bad') };
}

describe('a dead unit beside a libmodbus RTU slave on one line', () => {
  it('with the default quiet time after no reply, the live slave answers its polls', async () => {
    const { good, bad } = await livePolls(undefined, 16);
    expect(good, JSON.stringify(bad.map((r) => r.error))).toBeGreaterThanOrEqual(15);
  });

  it('without it (what the issue saw), libmodbus swallows the request after each timeout', async () => {
    const { bad } = await livePolls(0, 8);
    expect(bad.length).toBeGreaterThanOrEqual(2);
    expect(bad[0]!.error!.code).toBe('EDGE_DEVICE_TIMEOUT');
  });
});
