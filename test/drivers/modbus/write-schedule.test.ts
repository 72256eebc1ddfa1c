import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../agent/core/clock.js';
import { ModbusDriver } from '../../../drivers/modbus/driver.js';
import { MemoryTransport } from '../../../drivers/modbus/memory-transport.js';
import { SlaveModel } from '../../../drivers/simulators/slave-model.js';

/** Lets promise chains run (no time passes: the clock is manual). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
}

describe('writes share the line with the polls (ManualClock + MemoryTransport)', () => {
  it('a write waits out the quiet time after a dead unit, like a poll; a refusal answers at once', async () => {
    const clock = new ManualClock(0);
    const live = new SlaveModel();
    const transport = new MemoryTransport({ slaves: new Map([[1, live]]), clock, description: 'bus0' });
    const sent: Array<[number, number, number]> = [];
    transport.on('request', (e) => sent.push([e.unit, e.fc, e.at]));
    const line = { kind: 'rtu' as const, path: '/dev/bus0' }; // default quietAfterNoReplyMs: 600
    const driver = new ModbusDriver(
      {
        devices: [
          { name: 'dead', transport: line, unitId: 2, pollMs: 60_000, timeoutMs: 200, retries: 0, points: [{ name: 'v', table: 'holding', address: 0 }] },
          { name: 'live', transport: line, unitId: 1, pollMs: 60_000, timeoutMs: 200, retries: 0, points: [{ name: 'sp', table: 'holding', address: 0, writable: true, max: 10 }] },
        ],
      },
      { clock, transportFactory: () => transport },
    );
    await driver.start(async () => undefined);
    await settle(); // the dead unit's poll is on the line; the live one's waits behind it
    let refusedAt: number | undefined;
    await driver.writePoint({ device: 'live', point: 'sp', value: 11, by: 't' }).catch(() => (refusedAt = clock.now()));
    expect(refusedAt).toBe(0);
    let writtenAt: number | undefined;
    const write = driver.writePoint({ device: 'live', point: 'sp', value: 7, by: 't' }).then((r) => ((writtenAt = clock.now()), r));
    for (let t = 0; t < 1000; t += 50) {
      clock.advance(50);
      await settle();
    }
    expect((await write).readBack).toBe(7);
    // The dead unit's request at 0 timed out at 200; nothing goes on the line before 600.
    const afterDead = sent.filter(([unit]) => unit === 1);
    expect(afterDead.every(([, , at]) => at >= 600)).toBe(true);
    expect(afterDead.map(([, fc]) => fc)).toEqual([3, 6, 3]); // the live poll's turn, then the write and its read-back
    expect(writtenAt).toBeGreaterThanOrEqual(600);
    await driver.stop();
  });
});
