import cron from 'node-cron';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../agent/core/clock.js';
import type { Reading } from '../../../agent/core/reading.js';
import { CronSchedule } from '../../../drivers/modbus/cron-schedule.js';
import { ModbusDriver } from '../../../drivers/modbus/driver.js';
import { MemoryTransport } from '../../../drivers/modbus/memory-transport.js';
import { SlaveModel } from '../../../drivers/simulators/slave-model.js';
import { deferred } from '../support/events.js';

/** Lets promise chains run (no time passes: the clock is manual). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
}

describe('CronSchedule fires when node-cron would', () => {
  // node-cron's own matcher (a task never started) is the reference.
  const agrees = (expression: string, from: Date, fires: number, step: number): void => {
    const schedule = new CronSchedule(expression);
    const reference = cron.createTask(expression, () => undefined);
    try {
      let t = from.getTime();
      for (let i = 0; i < fires; i++) {
        const next = schedule.nextAfter(t);
        expect(reference.match(new Date(next)), `${expression}: ${new Date(next).toString()}`).toBe(true);
        // Nothing in between matches, probed every `step` ms from the first whole second on.
        for (let probe = Math.floor(t / 1000) * 1000 + 1000; probe < next; probe += step) {
          expect(reference.match(new Date(probe)), `${expression}: missed ${new Date(probe).toString()}`).toBe(false);
        }
        t = next;
      }
    } finally {
      void reference.destroy();
    }
  };

  it('second and minute fields, steps, ranges and lists', () => {
    const from = new Date(2026, 11, 31, 23, 58, 30, 250);
    agrees('* * * * * *', from, 5, 1000);
    agrees('*/7 * * * * *', from, 20, 1000);
    agrees('15 */10 * * * *', from, 8, 1000);
    agrees('0 9-17/2 * * 1-5', from, 12, 60_000);
    agrees('30 8,12 * * *', from, 6, 60_000);
  });

  it('day fields: names, L, W, #, the last weekday, and day-of-month and day-of-week together', () => {
    const from = new Date(2026, 0, 1, 0, 0, 0);
    for (const expr of ['0 0 L * *', '0 0 15W * *', '0 0 LW * *', '0 0 L-3 * *', '0 0 * * 1#2', '0 0 * * 5L', '0 0 * JAN,FEB SUN', '0 0 13 * 5', '@daily']) {
      agrees(expr, from, 6, 3_600_000);
    }
  });

  it('an instant inside a whole second: the next fire is the next matching second, never the same one', () => {
    const s = new CronSchedule('* * * * * *');
    expect(s.nextAfter(10_000)).toBe(11_000);
    expect(s.nextAfter(10_999)).toBe(11_000);
  });
});

describe('ModbusDriver cron schedules run on the injected clock', () => {
  function setup(sink: (rs: Reading[]) => Promise<void>) {
    // 1 January, local midnight: cron fields are local time.
    const t0 = new Date(2027, 0, 1, 0, 0, 0).getTime();
    const clock = new ManualClock(t0);
    const slave = new SlaveModel();
    slave.setRegisters('holding', 0, [7]);
    const transport = new MemoryTransport({ slaves: new Map([[1, slave]]), clock, description: 'bus0' });
    const polled: number[] = [];
    transport.on('request', (e) => polled.push(e.at - t0));
    const driver = new ModbusDriver(
      { devices: [{ name: 'meter', transport: { kind: 'rtu', path: '/dev/bus0' }, unitId: 1, cron: '*/2 * * * * *', timeoutMs: 100, retries: 0, points: [{ name: 'v', table: 'holding', address: 0 }] }] },
      { clock, transportFactory: () => transport },
    );
    return { clock, driver, polled, start: () => driver.start(sink) };
  }

  it('polls on every matching second of a ManualClock, and not before the first', async () => {
    const readings: Reading[] = [];
    const { clock, driver, polled, start } = setup(async (rs) => void readings.push(...rs));
    await start();
    await settle();
    expect(polled).toEqual([]); // t = 0 is a tick already passed: the first is at 2 s
    for (let i = 0; i < 10; i++) {
      clock.advance(500);
      await settle();
    }
    await driver.stop();
    expect(polled).toEqual([2000, 4000]);
    expect(readings.map((r) => r.value)).toEqual([7, 7]);
  });

  it('skips a tick while the previous poll is still in its sink (no stacked polls)', async () => {
    const gate = deferred();
    let calls = 0;
    const { clock, driver, polled, start } = setup(async () => {
      calls++;
      if (calls === 1) await gate.promise;
    });
    await start();
    for (let i = 0; i < 6; i++) {
      clock.advance(1000);
      await settle();
    }
    // The 2 s poll is held by its sink through the 4 s and 6 s ticks.
    expect(polled).toEqual([2000]);
    gate.resolve();
    await settle();
    clock.advance(2000);
    await settle();
    await driver.stop();
    expect(polled).toEqual([2000, 8000]);
  });
});
