import { describe, expect, it } from 'vitest';
import type { PointValue, StampedReading } from '../../../agent/core/reading.js';
import { Deadband, DeadbandRules, SuppressedCounts } from '../../../agent/pipeline/deadband.js';
import type { DeadbandSpec } from '../../../drivers/registry.js';

const T0 = Date.UTC(2026, 0, 1);

function reading(value: PointValue, s: number, o: Partial<StampedReading> = {}): StampedReading {
  const t = T0 + s * 1000;
  return { driver: 'line', source: 'plc', point: 'p', value, quality: 'good', receivedAt: t, appTime: t, arrivalTime: t + 5, ...o };
}

function filter(spec: DeadbandSpec | false, counts = new SuppressedCounts()) {
  return new Deadband(new DeadbandRules([{ driver: 'line', rules: [{ source: 'plc', point: 'p', spec }] }]), counts);
}

/** Which of the values (one a second) pass. */
function passing(spec: DeadbandSpec | false, values: PointValue[]): boolean[] {
  const d = filter(spec);
  return values.map((v, s) => d.admit(reading(v, s)));
}

describe('deadband: what passes, per value type', () => {
  it.each<[string, DeadbandSpec | false, PointValue[], boolean[]]>([
    ['absolute: more than the band from the last forwarded value', { absolute: 0.5 }, [10, 10.4, 10.5, 10.6, 10.2, 10.0, 11.2], [true, false, false, true, false, true, true]],
    // The reference is the last forwarded value, not the last reading: a slow creep is sent once it adds up.
    ['absolute: a creep adds up against the last forwarded value', { absolute: 1 }, [0, 0.4, 0.8, 1.2, 1.6], [true, false, false, true, false]],
    ['percent: of the last forwarded value', { percent: 1 }, [200, 201.9, 202.1, 204, 204.2], [true, false, true, false, true]],
    ['percent: of a negative value, by its size', { percent: 10 }, [-50, -54, -56, -62], [true, false, true, true]],
    ['percent of 0 is 0: any change from 0 passes', { percent: 5 }, [0, 0, 0.001, 0.001], [true, false, true, false]],
    ['absolute is the floor of a percent band', { percent: 1, absolute: 0.2 }, [0, 0.1, 0.3, 100, 100.9, 101.1], [true, false, true, true, false, true]],
    ['no band: every change passes, a repeat does not', {}, [3, 3, 3.0001, 3.0001], [true, false, true, false]],
    ['boolean (a coil): only changes', { absolute: 5 }, [false, false, true, true, false], [true, false, true, false, true]],
    ['string: only changes', { percent: 50 }, ['RUN', 'RUN', 'STOP', 'STOP', 'RUN'], [true, false, true, false, true]],
    ['a type change passes', { absolute: 100 }, [1, '1', 1, null, null], [true, true, true, true, false]],
    ['false: every reading', false, [1, 1, 1], [true, true, true]],
  ])('%s', (_name, spec, values, expected) => {
    expect(passing(spec, values)).toEqual(expected);
  });

  it.each<[string, PointValue, PointValue]>([
    ['number', 20, 20.01],
    ['boolean', true, true],
    ['string', 'RUN', 'RUN'],
  ])('heartbeat (%s): the value goes anyway after maxSilenceMs of application time without one', (_type, first, same) => {
    const d = filter({ absolute: 1, maxSilenceMs: 5000 });
    const got = [0, 1, 2, 3, 4, 5, 6, 9, 10, 11].map((s) => d.admit(reading(s === 0 ? first : same, s)));
    // Sent at 0 s, silent until 5 s (≥ 5,000 ms), then again at 10 s.
    expect(got).toEqual([true, false, false, false, false, true, false, false, true, false]);
  });

  it('a change resets the heartbeat: silence counts from the last forwarded reading', () => {
    const d = filter({ absolute: 1, maxSilenceMs: 5000 });
    const got = [
      [10, 0],
      [12, 3],
      [12, 7],
      [12, 8],
    ].map(([v, s]) => d.admit(reading(v!, s!)));
    expect(got).toEqual([true, true, false, true]);
  });

  it('a quality change always passes, and so does a new error; a repeat of the same error does not', () => {
    const d = filter({ absolute: 100 });
    const bad = (code: string, s: number) => reading(null, s, { quality: 'bad', error: { code, message: 'x' } });
    const got = [reading(5, 0), bad('EDGE_DEVICE_TIMEOUT', 1), bad('EDGE_DEVICE_TIMEOUT', 2), bad('EDGE_DEVICE_CRC', 3), reading(5, 4), reading(5, 5), reading(5, 6, { quality: 'bad' })].map((r) => d.admit(r));
    expect(got).toEqual([true, true, false, true, true, false, true]);
  });

  it('points are independent; a point with no rule, or a reading with no driver, always passes', () => {
    const counts = new SuppressedCounts();
    const d = new Deadband(new DeadbandRules([{ driver: 'line', rules: [{ source: 'plc', point: 'a', spec: { absolute: 1 } }, { source: 'plc', point: 'b', spec: { absolute: 1 } }] }]), counts);
    const got = [
      d.admit(reading(1, 0, { point: 'a' })),
      d.admit(reading(5, 0, { point: 'b' })),
      d.admit(reading(1.5, 1, { point: 'a' })),
      d.admit(reading(5.5, 1, { point: 'b' })),
      d.admit(reading(1, 1, { point: 'c' })),
      d.admit(reading(1, 2, { point: 'c' })),
      d.admit(reading(1.5, 2, { point: 'a', driver: undefined })),
    ];
    expect(got).toEqual([true, true, false, false, true, true, true]);
    expect(counts.total).toBe(2);
    expect(counts.list()).toEqual([
      { driver: 'line', source: 'plc', point: 'a', suppressed: 1 },
      { driver: 'line', source: 'plc', point: 'b', suppressed: 1 },
    ]);
  });

  it("a source's default covers its unlisted points; a listed point's `false` is not overridden by it", () => {
    const d = new Deadband(new DeadbandRules([{ driver: 'rs', rules: [{ source: 'gauge', spec: { absolute: 1 } }, { source: 'gauge', point: 'raw', spec: false }] }]), new SuppressedCounts());
    const r = (point: string, v: number, s: number) => reading(v, s, { driver: 'rs', source: 'gauge', point });
    expect([d.admit(r('temp', 1, 0)), d.admit(r('temp', 1.5, 1)), d.admit(r('raw', 1, 0)), d.admit(r('raw', 1, 1))]).toEqual([true, false, true, true]);
  });

  it('a checkpoint carries what was last forwarded; one that does not end where the journal goes on is forgotten', () => {
    const counts = new SuppressedCounts();
    const a = filter({ absolute: 1 }, counts);
    const entry = (position: number, v: number) => ({ position, reading: reading(v, position) });
    expect(a.forward([entry(1, 10), entry(2, 10.5)]).map((d) => d.kind === 'reading' && d.v)).toEqual([10]);
    const saved = JSON.parse(JSON.stringify(a.checkpoint())) as ReturnType<Deadband['checkpoint']>;

    const b = filter({ absolute: 1 }, counts);
    b.restore(saved);
    expect(b.forward([entry(3, 10.6)])).toEqual([]); // still compared with the 10 forwarded before
    b.resumed();

    const c = filter({ absolute: 1 }, counts);
    c.restore(saved);
    expect(c.forward([entry(7, 10.6)]).length).toBe(1); // positions 3-6 went elsewhere: start afresh
    // Counted once: the replayed suppression (b, before resumed) is not counted again.
    expect(counts.total).toBe(1);
  });
});
