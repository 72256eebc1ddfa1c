import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../agent/core/clock.js';
import type { Reading } from '../../../agent/core/reading.js';
import { ModbusDriver } from '../../../drivers/modbus/driver.js';
import { MemoryTransport } from '../../../drivers/modbus/memory-transport.js';
import { SlaveModel } from '../../../drivers/simulators/slave-model.js';

/** Lets promise chains run (no time passes: the clock is manual). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
}

async function runUntil(clock: ManualClock, until: number, step = 50): Promise<void> {
  await settle();
  while (clock.now() < until) {
    clock.advance(step);
    await settle();
  }
}

const point = [{ name: 'v', table: 'holding' as const, address: 0 }];

function setup(breaker = { failureThreshold: 2, baseBackoffMs: 1000, maxBackoffMs: 4000 }) {
  const clock = new ManualClock(0);
  const live = new SlaveModel();
  live.setRegisters('holding', 0, [42]);
  const transport = new MemoryTransport({ slaves: new Map([[1, live]]), clock, description: 'bus0' });
  const requests: Array<[number, number]> = [];
  transport.on('request', (e) => requests.push([e.unit, e.at]));
  const tried: Array<[number, number]> = [];
  const origRequest = transport.request.bind(transport);
  transport.request = (unit, pdu, timeout) => {
    tried.push([unit, clock.now()]);
    return origRequest(unit, pdu, timeout);
  };
  const transportFactory = () => transport;
  const driver = new ModbusDriver(
    {
      devices: [
        // A line of slaves without libmodbus's quirk: no quiet time after a timeout (see below for it).
        { name: 'live', transport: { kind: 'rtu', path: '/dev/bus0', quietAfterNoReplyMs: 0 }, unitId: 1, pollMs: 500, timeoutMs: 100, retries: 0, points: point },
        { name: 'dead', transport: { kind: 'rtu', path: '/dev/bus0', quietAfterNoReplyMs: 0 }, unitId: 2, pollMs: 500, timeoutMs: 100, retries: 0, points: point },
      ],
      breaker,
    },
    { clock, transportFactory },
  );
  const readings: Reading[] = [];
  return { clock, live, driver, readings, tried, sink: async (rs: Reading[]) => void readings.push(...rs) };
}

describe('ModbusDriver schedule and breaker (deterministic, ManualClock + MemoryTransport)', () => {
  it('backs a dead slave off with doubling backoff, one probe per backoff, never stalling the live one', async () => {
    const { clock, driver, tried, readings, sink } = setup();
    await driver.start(sink);
    await runUntil(clock, 10_000);
    await driver.stop();
    // Dead: fails at 0 and 500 (threshold 2) → open 1 s; probe at 2000 fails → 2 s; probe at
    // 4500 fails → 4 s (max); next probe at 9000.
    expect(tried.filter(([u]) => u === 2).map(([, t]) => t)).toEqual([0, 500, 2000, 4500, 9000]);
    // Live: every 500 ms on the dot (its request waits behind the dead one's timeout at most).
    const live = tried.filter(([u]) => u === 1).map(([, t]) => t);
    expect(live.length).toBe(21);
    expect(live.every((t, i) => t - i * 500 >= 0 && t - i * 500 <= 100)).toBe(true);
    // Skipped polls of the dead slave are data too: bad readings saying it is backed off.
    const dead = readings.filter((r) => r.source === 'dead');
    expect(dead).toHaveLength(21);
    expect(dead.filter((r) => r.error?.code === 'EDGE_DEVICE_TIMEOUT')).toHaveLength(5);
    expect(dead.filter((r) => r.error?.code === 'EDGE_DEVICE_UNAVAILABLE')).toHaveLength(16);
    // A skipped poll names the real next attempt, as a time: the poll that probes (2000, 4500,
    // 9000), not the breaker's "in N ms" (which was 600 at the poll of 1000 and 100 at 1500).
    const nextAt = (t: number) => /next attempt at (\S+) /.exec(dead.find((r) => r.receivedAt >= t && r.receivedAt < t + 100)!.error!.message)?.[1];
    expect([nextAt(1000), nextAt(1500), nextAt(2500), nextAt(5000), nextAt(8500)]).toEqual(['1970-01-01T00:00:02.000Z', '1970-01-01T00:00:02.000Z', '1970-01-01T00:00:04.500Z', '1970-01-01T00:00:09.000Z', '1970-01-01T00:00:09.000Z']);
    const h = driver.health().sources;
    expect(h.dead).toMatchObject({ errors: 5, errorsByCode: { EDGE_DEVICE_TIMEOUT: 5 } });
    expect(h.live).toMatchObject({ errors: 0, polls: 21 });
  });

  it('closes the breaker again when the slave comes back', async () => {
    const { clock, driver, tried, readings, sink, live } = setup({ failureThreshold: 1, baseBackoffMs: 1000, maxBackoffMs: 1000 });
    live.setFault({ kind: 'no-reply' });
    await driver.start(sink);
    await runUntil(clock, 1050);
    expect(driver.health().sources.live!.state).toBe('backoff');
    live.setFault({ kind: 'none' });
    await runUntil(clock, 3000);
    await driver.stop();
    expect(driver.health().sources.live!.lastGoodAt).toBeDefined();
    const t = tried.filter(([u]) => u === 1).map(([, at]) => at);
    // 0 fails → open until 1100; probe at 1500 succeeds → polled every period again.
    expect(t).toEqual([0, 1500, 2000, 2500, 3000]);
    expect(readings.filter((r) => r.source === 'live').at(-1)).toMatchObject({ value: 42, quality: 'good' });
  });

  it('exception replies do not open the breaker (the slave is alive)', async () => {
    const { clock, driver, tried, readings, sink, live } = setup({ failureThreshold: 1, baseBackoffMs: 1000, maxBackoffMs: 1000 });
    live.setFault({ kind: 'exception', code: 2 });
    await driver.start(sink);
    await runUntil(clock, 2000);
    await driver.stop();
    expect(tried.filter(([u]) => u === 1)).toHaveLength(5);
    expect(readings.filter((r) => r.source === 'live').every((r) => r.error?.code === 'EDGE_DEVICE_EXCEPTION')).toBe(true);
  });

  it('stop does not wait out a request in flight: it aborts it and reports nothing made up', async () => {
    const { clock, driver, tried, readings, sink } = setup();
    await driver.start(sink);
    await settle(); // live polled; dead's request now waits for a timeout that never comes (manual clock)
    expect(tried.map(([u]) => u)).toEqual([1, 2]);
    await driver.stop();
    expect(readings.filter((r) => r.source === 'dead')).toEqual([]);
    expect(driver.health().sources.dead!.errors).toBe(0);
    expect(clock.now()).toBe(0);
  });
});
