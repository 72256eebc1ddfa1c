import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../agent/core/clock.js';
import { decodeValue } from '../../drivers/modbus/codec.js';
import { readRequest } from '../../drivers/modbus/pdu.js';
import { signalValue, type Signal } from '../../drivers/simulators/signals.js';
import { SlaveModel } from '../../drivers/simulators/slave-model.js';
import { ModbusDriver } from '../../drivers/modbus/driver.js';
import { SerialLineDriver } from '../../drivers/serial-line/driver.js';
import { startLineSensorDemo, startRtuDemoSimulator } from '../../drivers/simulators/demo.js';
import { RecordingSink } from './support/sink.js';

describe('signals of time', () => {
  const cases: Array<[string, Signal, number, number]> = [
    ['sine at 0 is its offset', { kind: 'sine', amplitude: 10, periodMs: 1000, offset: 5 }, 0, 5],
    ['sine at a quarter period is its peak', { kind: 'sine', amplitude: 10, periodMs: 1000, offset: 5 }, 250, 15],
    ['ramp halfway', { kind: 'ramp', from: 0, to: 100, periodMs: 1000 }, 1500, 50],
    ['step holds each value a period', { kind: 'step', values: [1, 2, 3], periodMs: 100 }, 250, 3],
    ['step wraps around', { kind: 'step', values: [1, 2, 3], periodMs: 100 }, 300, 1],
    ['constant', { kind: 'constant', value: 4 }, 123, 4],
  ];
  it.each(cases)('%s', (_name, s, t, want) => expect(signalValue(s, t)).toBeCloseTo(want, 9));

  it('noise is deterministic per time bucket and stays within its amplitude', () => {
    const s: Signal = { kind: 'noise', mean: 50, amplitude: 2, seed: 7, holdMs: 100 };
    expect(signalValue(s, 1234)).toBe(signalValue(s, 1299));
    const values = Array.from({ length: 200 }, (_, i) => signalValue(s, i * 100));
    expect(Math.min(...values)).toBeGreaterThanOrEqual(48);
    expect(Math.max(...values)).toBeLessThanOrEqual(52);
    expect(new Set(values).size).toBeGreaterThan(100);
  });
});

describe('SlaveModel', () => {
  it('serves bound registers at the time of the request, from an injected clock', () => {
    const clock = new ManualClock(0);
    const m = new SlaveModel().bind({ table: 'input', address: 10, type: 'float32', order: 'CDAB', signal: { kind: 'ramp', from: 0, to: 10, periodMs: 1000 } });
    const read = (): number => decodeValue(m.handle(readRequest('input', 10, 2), clock.now()).subarray(2), 'float32', 'CDAB') as number;
    expect(read()).toBe(0);
    clock.advance(250);
    expect(read()).toBe(2.5);
  });

  it('answers bad requests with the exceptions a real slave uses', () => {
    const m = new SlaveModel();
    expect([...m.handle(Buffer.from([0x2b, 0x0e, 1, 0]), 0)]).toEqual([0xab, 1]); // unsupported function
    expect([...m.handle(readRequest('holding', 0, 126), 0)]).toEqual([0x83, 3]); // count too big
    expect([...m.handle(readRequest('holding', 65535, 2), 0)]).toEqual([0x83, 2]); // past the end
  });

  it('accepts writes (mbpoll -t4 … values, FC 6 and 16) and reads them back', () => {
    const m = new SlaveModel();
    expect([...m.handle(Buffer.from([6, 0, 5, 0x12, 0x34]), 0)]).toEqual([6, 0, 5, 0x12, 0x34]);
    m.handle(Buffer.from([16, 0, 6, 0, 2, 4, 0, 1, 0, 2]), 0);
    expect([...m.holding.subarray(5, 8)]).toEqual([0x1234, 1, 2]);
  });
});

describe('demo helpers', () => {
  it('startRtuDemoSimulator and startLineSensorDemo come with configs that read them', async () => {
    const rtu = await startRtuDemoSimulator({ slaves: 2, registers: 3, pollMs: 50 });
    const line = await startLineSensorDemo({ periodMs: 30, deviceSkewMs: 2000 });
    const m = new ModbusDriver(rtu.driverConfig);
    const l = new SerialLineDriver(line.driverConfig);
    try {
      const recM = new RecordingSink();
      const recL = new RecordingSink();
      await m.start(recM.sink);
      await l.start(recL.sink);
      const both = await Promise.all([recM.next((b) => b[0]!.source === 'sim-rtu-2'), recL.next()]);
      expect(both[0].map((r) => [r.point, r.quality])).toEqual([
        ['temp0', 'good'],
        ['level1', 'good'],
        ['temp2', 'good'],
      ]);
      const reading = both[1][0]!;
      expect(reading).toMatchObject({ source: 'weather-1', point: 'temp', quality: 'good', unit: 'degC' });
      // The device's clock runs 2 s ahead; the configured offset brings deviceTime back.
      expect(Math.abs(reading.deviceTime! - reading.receivedAt)).toBeLessThan(1000);
    } finally {
      await m.stop();
      await l.stop();
      await rtu.close();
      await line.close();
    }
  });
});
