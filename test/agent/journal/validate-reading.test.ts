import { captureLogger } from '../../support/log-capture.js';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../agent/core/clock.js';
import { isEdgeError } from '../../../agent/core/errors.js';
import type { Reading } from '../../../agent/core/reading.js';
import { Journal } from '../../../agent/journal/journal.js';
import { ReadingGate } from '../../../agent/journal/reading-gate.js';
import { READING_LIMITS, readingProblem, STAMP_BYTES } from '../../../agent/journal/validate-reading.js';
import { stampReadings } from '../../../agent/stamp/stamp.js';
import { AgentStore } from '../../../agent/store/store.js';
import { stamped } from '../../support/readings.js';
import { tempDir } from '../../support/tmp.js';

const good: Reading = { source: 'boiler-1', point: 'temp', value: 21.5, quality: 'good', unit: 'C', receivedAt: 1_700_000_000_000 };
const as = (patch: Record<string, unknown>) => ({ ...good, ...patch }) as unknown as Reading;
const without = (key: keyof Reading) => {
  const r: Record<string, unknown> = { ...good };
  delete r[key];
  return r as unknown as Reading;
};

describe('readingProblem: what may enter the journal', () => {
  const valid: Array<[string, Reading]> = [
    ['a plain number', good],
    ['null, boolean and string values', as({ value: null })],
    ['true', as({ value: true })],
    ['a string value', as({ value: 'RUN' })],
    ['a bad reading with its error', as({ value: null, quality: 'bad', error: { code: 'EDGE_DEVICE_TIMEOUT', message: 'no answer in 500 ms' } })],
    ['a device time', as({ deviceTime: 1_699_999_999_000 })],
    ['no unit', without('unit')],
    ['names at the bound, in bytes', as({ source: 'é'.repeat(READING_LIMITS.nameBytes / 2), point: 'x'.repeat(READING_LIMITS.nameBytes) })],
  ];
  it.each(valid)('takes %s', (_, r) => {
    expect(readingProblem(r)).toBeUndefined();
  });

  const invalid: Array<[string, unknown, string]> = [
    ['not an object', 'temp=21', 'not an object'],
    ['null', null, 'not an object'],
    ['an empty source', as({ source: '' }), 'source is not a non-empty string'],
    ['a missing point', without('point'), 'point is not a non-empty string'],
    ['a numeric point', as({ point: 7 }), 'point is not a non-empty string'],
    ['a point one byte too long', as({ point: 'é'.repeat(READING_LIMITS.nameBytes / 2) + 'x' }), `point is longer than ${READING_LIMITS.nameBytes} bytes`],
    ['NaN', as({ value: Number.NaN }), 'value is not a finite number'],
    ['Infinity', as({ value: Number.POSITIVE_INFINITY }), 'value is not a finite number'],
    ['an object value', as({ value: { raw: 1 } }), 'value has type object, not number, boolean, string or null'],
    ['an array value', as({ value: [1, 2] }), 'value has type array, not number, boolean, string or null'],
    ['a bigint value', as({ value: 5n }), 'value has type bigint, not number, boolean, string or null'],
    ['no value', without('value'), 'value is missing'],
    ['a quality of "ok"', as({ quality: 'ok' }), "quality is not 'good' or 'bad'"],
    ['receivedAt NaN', as({ receivedAt: Number.NaN }), 'receivedAt is not a finite epoch ms'],
    ['receivedAt as a string', as({ receivedAt: '2026-01-01' }), 'receivedAt is not a finite epoch ms'],
    ['receivedAt past any Date', as({ receivedAt: 9e15 }), 'receivedAt is not a finite epoch ms'],
    ['deviceTime Infinity', as({ deviceTime: Number.POSITIVE_INFINITY }), 'deviceTime is not a finite epoch ms'],
    ['a numeric unit', as({ unit: 5 }), `unit is not a string of at most ${READING_LIMITS.unitBytes} bytes`],
    ['an error that is a string', as({ error: 'timeout' }), 'error is not an object'],
    ['an error without code', as({ error: { code: '', message: 'x' } }), `error.code is not a non-empty string of at most ${READING_LIMITS.errorCodeBytes} bytes`],
    ['an error without message', as({ error: { code: 'E' } }), `error.message is not a string of at most ${READING_LIMITS.errorMessageBytes} bytes`],
    ['a value too big for a message', as({ value: 'x'.repeat(READING_LIMITS.encodedBytes) }), `encodes to more than ${READING_LIMITS.encodedBytes} bytes`],
    // Fields the checks do not know are measured, not assumed small.
    ['a small reading carrying a big unknown field', { ...as({ value: 1 }), tags: 'x'.repeat(READING_LIMITS.encodedBytes) } as unknown as Reading, `encodes to more than ${READING_LIMITS.encodedBytes} bytes`],
  ];
  it('takes a reading at every field bound without encoding it, because its encoding provably fits', () => {
    // Every name, unit and error at its bound in characters JSON escapes to 6 bytes, and the
    // longest string value the shortcut takes: the shortcut's claim, checked by encoding.
    const x = '\u0001';
    const widest = as({ source: x.repeat(READING_LIMITS.nameBytes), point: x.repeat(READING_LIMITS.nameBytes), unit: x.repeat(READING_LIMITS.unitBytes), error: { code: x.repeat(READING_LIMITS.errorCodeBytes), message: x.repeat(READING_LIMITS.errorMessageBytes) }, value: x.repeat(4096) });
    expect(readingProblem(widest)).toBeUndefined();
    expect(Buffer.byteLength(JSON.stringify(widest)) + STAMP_BYTES).toBeLessThan(READING_LIMITS.encodedBytes);
  });
  it.each(invalid)('refuses %s', (_, r, reason) => {
    expect(readingProblem(r)).toBe(reason);
  });
});


describe('the size bound holds for the reading as it will be journaled', () => {
  it('a reading that passes before the stamp passes after it; one byte more is refused before', () => {
    const base = JSON.stringify(as({ value: '' })).length;
    const fits = as({ value: 'x'.repeat(READING_LIMITS.encodedBytes - STAMP_BYTES - base) });
    expect(readingProblem(fits)).toBeUndefined();
    expect(readingProblem(as({ value: 'x'.repeat(READING_LIMITS.encodedBytes - STAMP_BYTES - base + 1) }))).toBe(`encodes to more than ${READING_LIMITS.encodedBytes} bytes`);
    // The widest stamp: extreme times and the longest driver name the intake records.
    const [stampedFit] = stampReadings([{ ...fits, receivedAt: -8.64e15 }], new ManualClock(-8.64e15), 'd'.repeat(READING_LIMITS.nameBytes));
    expect(readingProblem(stampedFit)).toBeUndefined();
  });
});

describe('ReadingGate: the bad ones out, the good ones on', () => {
  it('keeps the valid readings in order, counts the others per driver and reason, logs each reason once', () => {
    const { logger, lines } = captureLogger();
    const gate = new ReadingGate(logger);
    const batch = [good, as({ value: Number.NaN }), as({ point: 'p2' }), as({ point: '' }), as({ point: 'p3', value: Number.NaN })];
    expect(gate.admit(batch, 'modbus')).toEqual([good, batch[2]]);
    expect(gate.admit([as({ value: Number.NaN }), good], 'modbus')).toEqual([good]);
    expect(gate.of('modbus')).toEqual({ rejected: 4, rejectedByReason: { 'value is not a finite number': 3, 'point is not a non-empty string': 1 } });
    expect(gate.of('serial')).toEqual({ rejected: 0, rejectedByReason: {} });
    expect(lines.map((l) => [l.driver, l.reason])).toEqual([
      ['modbus', 'value is not a finite number'],
      ['modbus', 'point is not a non-empty string'],
    ]);
    expect(lines[0]!.msg).toMatch(/^driver modbus: reading boiler-1\/temp refused: value is not a finite number; further readings/);
    expect(lines[1]!.msg).toMatch(/reading boiler-1\/<empty> refused/);
  });

  it('a batch with nothing valid is refused with EDGE_READING_INVALID naming driver and point; an all-good batch passes as it is', () => {
    const gate = new ReadingGate(captureLogger().logger);
    const all = [good];
    expect(gate.admit(all, 'sim')).toBe(all);
    expect(gate.admit([], 'sim')).toEqual([]);
    let err: unknown;
    try {
      gate.admit([as({ point: 'level', value: Number.NaN }), as({ quality: 'meh' })], 'sim');
    } catch (e) {
      err = e;
    }
    expect(isEdgeError(err, 'EDGE_READING_INVALID')).toBe(true);
    expect((err as Error).message).toBe('driver sim: reading boiler-1/level refused: value is not a finite number (and 1 more in the same batch)');
    expect(gate.of('sim').rejected).toBe(2);
  });
});

describe('Journal.append validates before it writes', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('refuses a batch holding an invalid reading, writes nothing of it, and takes the next', async () => {
    const dir = tempDir('journal-validate');
    cleanups.push(dir.cleanup);
    const store = await AgentStore.open(dir.path);
    cleanups.push(() => store.close());
    const journal = new Journal(store);
    await journal.init(0);
    const refused = journal.append([stamped(1), stamped(2, { point: 'flow', value: Number.POSITIVE_INFINITY })], 'modbus');
    await expect(refused).rejects.toMatchObject({ code: 'EDGE_READING_INVALID', message: 'driver modbus: reading dev-1/flow refused: value is not a finite number' });
    expect(journal.lastPosition).toBe(0);
    await journal.append([stamped(3)]);
    expect((await journal.read(0, 10)).map((e) => [e.position, e.reading.point])).toEqual([[1, 'p3']]);
  });
});
