import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../agent/core/clock.js';
import { isEdgeError } from '../../../agent/core/errors.js';
import { SerialLineDriver } from '../../../drivers/serial-line/driver.js';
import { nmeaSentence } from '../../../drivers/serial-line/parsers/nmea.js';
import { LineSensorSimulator, lines } from '../../../drivers/simulators/line-sensor.js';
import { usePtyPairs } from '../support/pty.js';
import { RecordingSink } from '../support/sink.js';

const ptyPair = usePtyPairs();
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('SerialLineDriver over a pty', () => {
  it('CSV with a device timestamp: deviceTime gets the clock offset, receivedAt the agent clock', async () => {
    const pair = await ptyPair();
    const sim = await LineSensorSimulator.open({ path: pair.b, line: () => '' });
    cleanups.push(() => sim.close());
    const clock = new ManualClock(1_800_000_000_000);
    const driver = new SerialLineDriver(
      { sensors: [{ name: 'weather', path: pair.a, clockOffsetMs: -2500, units: { temp: 'degC' }, parser: { kind: 'csv', columns: [{ name: 'temp', index: 1 }, { name: 'rh', index: 2 }], timestamp: { index: 0, format: 'epoch-ms' } } }] },
      { clock },
    );
    cleanups.push(() => driver.stop());
    const rec = new RecordingSink();
    await driver.start(rec.sink);
    const got = rec.next();
    await sim.send(lines.csv(1_799_999_990_000, 21.5, 40));
    expect(await got).toEqual([
      { source: 'weather', point: 'temp', value: 21.5, quality: 'good', receivedAt: 1_800_000_000_000, deviceTime: 1_799_999_987_500, unit: 'degC' },
      { source: 'weather', point: 'rh', value: 40, quality: 'good', receivedAt: 1_800_000_000_000, deviceTime: 1_799_999_987_500 },
    ]);
  });

  it('NMEA: checksum failures and garbage become bad readings; good sentences carry on', async () => {
    const pair = await ptyPair();
    const t0 = Date.UTC(2026, 10, 22, 6, 30, 15);
    const sim = await LineSensorSimulator.open({ path: pair.b, line: (t) => lines.rmc(t, 48.5, -11.25, 3.2, 90) });
    cleanups.push(() => sim.close());
    const driver = new SerialLineDriver({ sensors: [{ name: 'gps', path: pair.a, parser: { kind: 'nmea', sentences: ['RMC', 'MTW'] } }] });
    cleanups.push(() => driver.stop());
    const rec = new RecordingSink();
    await driver.start(rec.sink);

    let next = rec.next();
    await sim.send(lines.rmc(t0, 48.5, -11.25, 3.2, 90));
    const good = await next;
    expect(good.find((r) => r.point === 'latitude')!.value).toBeCloseTo(48.5, 5);
    expect(good.find((r) => r.point === 'longitude')!.value).toBeCloseTo(-11.25, 5);
    expect(good[0]!.deviceTime).toBe(t0);

    sim.setFault({ kind: 'bad-checksum' });
    next = rec.next();
    await sim.send();
    const bad = await next;
    expect(bad.every((r) => r.quality === 'bad' && r.error?.code === 'EDGE_DEVICE_CRC')).toBe(true);
    expect(bad.map((r) => r.point)).toContain('latitude');

    sim.setFault({ kind: 'garbage', bytes: 12 });
    next = rec.next();
    await sim.send();
    expect((await next)[0]!.error?.code).toBe('EDGE_DEVICE_FRAME');

    sim.setFault({ kind: 'none' });
    next = rec.next();
    await sim.send(lines.mtw(12.3));
    expect(await next).toMatchObject([{ point: 'waterTemp', value: 12.3, quality: 'good' }]);
    const h = driver.health().sources.gps!;
    expect(h.errorsByCode).toEqual({ EDGE_DEVICE_CRC: 1, EDGE_DEVICE_FRAME: 1 });
    expect(h.polls).toBe(4);
  });

  it('JSON lines and regex sensors; a partial line merges into the next and is reported bad', async () => {
    const a = await ptyPair();
    const b = await ptyPair();
    const simA = await LineSensorSimulator.open({ path: a.b, line: () => '', delimiter: '\n' });
    const simB = await LineSensorSimulator.open({ path: b.b, line: () => '', delimiter: '\n' });
    cleanups.push(() => simA.close(), () => simB.close());
    const driver = new SerialLineDriver({
      sensors: [
        { name: 'flow', path: a.a, parser: { kind: 'json', fields: { q: 'flow.q' }, timestamp: { path: 't', format: 'iso' } } },
        { name: 'th', path: b.a, parser: { kind: 'regex', pattern: '^T=(?<t>-?[\\d.]+) H=(?<h>\\d+)$' } },
      ],
    });
    cleanups.push(() => driver.stop());
    const rec = new RecordingSink();
    await driver.start(rec.sink);
    let next = rec.next((x) => x[0]!.source === 'flow');
    await simA.send(lines.json({ t: '2026-11-22T06:00:00Z', flow: { q: 3.75 } }));
    expect((await next)[0]).toMatchObject({ point: 'q', value: 3.75, deviceTime: Date.UTC(2026, 10, 22, 6) });
    simB.setFault({ kind: 'partial' });
    await simB.send('T=20.5 H=40');
    simB.setFault({ kind: 'none' });
    next = rec.next((x) => x[0]!.source === 'th');
    await simB.send('T=21.0 H=41');
    // "T=20.T=21.0 H=41": the merged line does not match the pattern → bad for t and h.
    const merged = await next;
    expect(merged.map((r) => [r.point, r.quality])).toEqual([
      ['t', 'bad'],
      ['h', 'bad'],
    ]);
    next = rec.next((x) => x[0]!.source === 'th');
    await simB.send('T=22.0 H=42');
    expect((await next).map((r) => r.value)).toEqual([22, 42]);
  });

  it('keeps readings the sink refused and delivers them with the next call', async () => {
    const pair = await ptyPair();
    const sim = await LineSensorSimulator.open({ path: pair.b, line: () => '' });
    cleanups.push(() => sim.close());
    const driver = new SerialLineDriver({ sensors: [{ name: 's', path: pair.a, parser: { kind: 'csv', columns: [{ name: 'v', index: 0 }] } }] });
    cleanups.push(() => driver.stop());
    const delivered: number[] = [];
    let refuse = true;
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => (resolveDone = r));
    await driver.start(async (rs) => {
      if (refuse) {
        refuse = false;
        throw new Error('journal busy');
      }
      delivered.push(...rs.map((r) => r.value as number));
      if (delivered.includes(2)) resolveDone();
    });
    await sim.send('1');
    await sim.send('2');
    await done;
    expect(delivered).toEqual([1, 2]);
    expect(driver.requeued).toBe(1);
  });

  it('reopens a vanished port through its by-id style symlink, and a port absent at start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-line-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const link = join(dir, 'usb-Prolific_PL2303-if00-port0');
    const driver = new SerialLineDriver({ sensors: [{ name: 'v', path: link, parser: { kind: 'csv', columns: [{ name: 'v', index: 0 }] } }], reopen: { baseMs: 20, maxMs: 80 } });
    cleanups.push(() => driver.stop());
    const rec = new RecordingSink();
    await driver.start(rec.sink); // nothing there yet: retried in the background
    expect(driver.lineStats().v!.open).toBe(false);
    for (const value of [1, 2]) {
      const pair = await ptyPair({ linkA: link });
      const sim = await LineSensorSimulator.open({ path: pair.b, line: () => '' });
      // The driver finds the port on its own; keep sending until a line gets through.
      const got = rec.next();
      let stop = false;
      const sending = (async () => {
        while (!stop) {
          await sim.send(String(value)); // paced by the write's drain callback
          await new Promise<void>((r) => setImmediate(r));
        }
      })();
      expect((await got)[0]!.value).toBe(value);
      stop = true;
      await sending;
      await sim.close();
      await pair.close();
    }
    expect(driver.lineStats().v!.reopens).toBeGreaterThanOrEqual(1);
    expect(driver.health().sources.v!.errorsByCode.EDGE_DEVICE_UNAVAILABLE).toBeGreaterThan(0);
  });

  it('NMEA named as on the wire (GPGGA, WIMWV) yields points; sentences it skips are counted by address in its health', async () => {
    const driver = new SerialLineDriver(
      { sensors: [{ name: 'mast', path: '/dev/edge-unused', parser: { kind: 'nmea', sentences: ['GPGGA', 'WIMWV'], fields: { WIMWV: { windAngle: { index: 1 }, windSpeed: { index: 3 } } } } }] },
      { clock: new ManualClock(1_800_000_000_000) },
    );
    const rec = new RecordingSink();
    const wire = (body: string) => Buffer.from(`${nmeaSentence(body)}\r\n`);
    const got = rec.next();
    await driver.start(rec.sink).catch(() => undefined); // no port: lines come by inject
    cleanups.push(() => driver.stop());
    for (const body of ['GPGSV,3,1,11', 'GPGSV,3,2,11', 'GPRMC,123519,A,4807.038,N,01131.000,W,022.4,084.4,230394,003.1,W', 'WIMWV,214.8,R,0.1,K,A']) driver.inject('mast', wire(body));
    expect(await got).toMatchObject([
      { point: 'windAngle', value: 214.8, quality: 'good' },
      { point: 'windSpeed', value: 0.1, quality: 'good' },
    ]);
    const h = driver.health().sources.mast!;
    expect(h.skipped).toEqual({ lines: { GPGSV: 2, GPRMC: 1 }, because: 'not among the sentences read (GPGGA, WIMWV)' });
    expect(h.polls).toBe(4);
    expect(h.errorsByCode.EDGE_DEVICE_FRAME).toBeUndefined();
  });

  it('refuses bad config naming the sensor', () => {
    try {
      new SerialLineDriver({ sensors: [{ name: 'th', path: '/dev/x', parser: { kind: 'regex', pattern: '(\\d+)' } }] });
      expect.unreachable();
    } catch (err) {
      expect(isEdgeError(err, 'EDGE_CONFIG_INVALID')).toBe(true);
      expect((err as Error).message).toContain('sensor "th" parser: regular expression (\\d+) has no named groups');
    }
    expect(() => new SerialLineDriver({ sensors: [{ name: 'x', path: '/dev/x', parser: { kind: 'xml' } }] })).toThrow(/sensor "x"/);
    expect(() => new SerialLineDriver({ sensors: [{ name: 'mast', path: '/dev/x', parser: { kind: 'nmea', sentences: ['GPGGA', 'WIMWV'] } }] })).toThrow(/sensor "mast" parser: sentence 'WIMWV': MWV is not built in .*; give its points as fields\.WIMWV/);
  });
});
