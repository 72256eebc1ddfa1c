import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../agent/core/clock.js';
import { isEdgeError } from '../../../agent/core/errors.js';
import type { Reading } from '../../../agent/core/reading.js';
import { ModbusDriver } from '../../../drivers/modbus/driver.js';
import { startTcpDemoSimulator } from '../../../drivers/simulators/demo.js';
import { RtuSlaveSimulator } from '../../../drivers/simulators/rtu-slave.js';
import { SlaveModel } from '../../../drivers/simulators/slave-model.js';
import { deferred } from '../support/events.js';
import { usePtyPairs } from '../support/pty.js';
import { RecordingSink } from '../support/sink.js';

const ptyPair = usePtyPairs();
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('ModbusDriver over TCP (demo simulator)', () => {
  it('reads scaled points, named by device and point, with receivedAt', async () => {
    const simClock = new ManualClock(0); // sine at t=0 is its offset, ramp is at its start
    const sim = await startTcpDemoSimulator({ registers: 4, pollMs: 50, clock: simClock });
    cleanups.push(sim.close);
    const driver = new ModbusDriver(sim.driverConfig);
    cleanups.push(() => driver.stop());
    const rec = new RecordingSink();
    const before = Date.now();
    await driver.start(rec.sink);
    const batch = await rec.next();
    expect(batch.map((r) => [r.point, r.value, r.quality, r.unit])).toEqual([
      ['temp0', 20, 'good', 'degC'],
      ['level1', 0, 'good', '%'],
      ['temp2', 22, 'good', 'degC'],
      ['level3', 0, 'good', '%'],
    ]);
    expect(batch[0]!.source).toBe('sim-tcp-1');
    expect(batch[0]!.receivedAt).toBeGreaterThanOrEqual(before);
    expect(driver.plan()['sim-tcp-1']).toEqual([{ table: 'holding', address: 0, count: 4, points: ['temp0', 'level1', 'temp2', 'level3'] }]);
    simClock.advance(15_000); // a quarter of temp0's 60 s period: the sine is at its peak
    const later = await rec.next((b) => b[0]!.value !== 20);
    expect(later[0]!.value).toBeCloseTo(30, 5);
    expect(driver.health().sources['sim-tcp-1']).toMatchObject({ state: 'ok', errors: 0 });
  });

  it('turns an exception reply into bad readings with code and name, and counts it', async () => {
    const sim = await startTcpDemoSimulator({ registers: 2, pollMs: 20 });
    cleanups.push(sim.close);
    const driver = new ModbusDriver(sim.driverConfig);
    cleanups.push(() => driver.stop());
    const rec = new RecordingSink();
    await driver.start(rec.sink);
    await rec.next();
    sim.simulator.slaves.get(1)!.setFault({ kind: 'exception', code: 2 });
    const bad = await rec.next((b) => b[0]!.quality === 'bad');
    expect(bad).toHaveLength(2);
    expect(bad[0]).toMatchObject({ value: null, quality: 'bad', error: { code: 'EDGE_DEVICE_EXCEPTION' } });
    expect(bad[0]!.error!.message).toContain('ILLEGAL DATA ADDRESS');
    const h = driver.health();
    expect(h.state).toBe('degraded');
    expect(h.sources['sim-tcp-1']!.errorsByCode.EDGE_DEVICE_EXCEPTION).toBeGreaterThan(0);
    expect(h.sources['sim-tcp-1']!.lastError?.code).toBe('EDGE_DEVICE_EXCEPTION');
    sim.simulator.slaves.get(1)!.setFault({ kind: 'none' });
    await rec.next((b) => b[0]!.quality === 'good');
  });

  it('waits for its sink before polling again (backpressure)', async () => {
    const sim = await startTcpDemoSimulator({ registers: 1, pollMs: 100 });
    cleanups.push(sim.close);
    const clock = new ManualClock(Date.now());
    const driver = new ModbusDriver({ ...sim.driverConfig, devices: sim.driverConfig.devices.map((d) => ({ ...d, timeoutMs: 60_000 })) }, { clock });
    cleanups.push(() => driver.stop());
    const gate = deferred();
    const called = deferred<Reading[]>();
    let calls = 0;
    await driver.start(async (rs) => {
      calls++;
      called.resolve(rs);
      await gate.promise;
    });
    await called.promise;
    const polls = (): number => driver.health().sources['sim-tcp-1']!.polls;
    expect(polls()).toBe(1);
    clock.advance(1000); // ten periods pass while the sink holds the batch
    expect(polls()).toBe(1);
    expect(calls).toBe(1);
    gate.resolve();
    await new Promise<void>((resolve) => {
      const check = (): void => {
        clock.advance(100);
        if (polls() > 1) resolve();
        else setImmediate(check);
      };
      check();
    });
    expect(polls()).toBe(2);
  });

  it('polls on a cron schedule', async () => {
    const sim = await startTcpDemoSimulator({ registers: 1 });
    cleanups.push(sim.close);
    const cfg = { ...sim.driverConfig, devices: sim.driverConfig.devices.map(({ pollMs: _p, ...d }) => ({ ...d, cron: '* * * * * *' })) };
    const driver = new ModbusDriver(cfg);
    cleanups.push(() => driver.stop());
    const rec = new RecordingSink();
    await driver.start(rec.sink);
    const a = await rec.next();
    const b = await rec.next();
    expect(b[0]!.receivedAt - a[0]!.receivedAt).toBeGreaterThan(500);
  });
});

describe('ModbusDriver on a shared RTU bus', () => {
  it('keeps a live slave at its poll rate (within 10 %) while another slave is dead', async () => {
    const pair = await ptyPair();
    const live = new SlaveModel();
    live.setRegisters('holding', 0, [7]);
    const sim = await RtuSlaveSimulator.open({ path: pair.b, baudRate: 19200, slaves: new Map([[1, live]]) });
    cleanups.push(() => sim.close());
    const pollMs = 100;
    // Our simulator's slaves do not wait out a neighbour's reply (libmodbus does: libmodbus-rtu.test.ts).
    const transport = { kind: 'rtu' as const, path: pair.a, baudRate: 19200, quietAfterNoReplyMs: 0 };
    const driver = new ModbusDriver({
      devices: [
        { name: 'live', transport, unitId: 1, pollMs, timeoutMs: 1000, points: [{ name: 'v', table: 'holding', address: 0 }] },
        // Its timeout alone is longer than the live slave's period.
        { name: 'dead', transport, unitId: 2, pollMs, timeoutMs: 120, retries: 1, points: [{ name: 'v', table: 'holding', address: 0 }] },
      ],
      breaker: { failureThreshold: 2, baseBackoffMs: 600, maxBackoffMs: 600 },
    });
    cleanups.push(() => driver.stop());
    const rec = new RecordingSink();
    await driver.start(rec.sink);
    // Wait until the dead slave's breaker has opened (its readings say "backed off").
    const backedOff = await rec.next((b) => b[0]!.source === 'dead' && b[0]!.error?.code === 'EDGE_DEVICE_UNAVAILABLE');
    expect(backedOff[0]!.error!.message).toMatch(/backed off/);
    // Count the live slave's polls over a window of K polls, using the simulator's events.
    // (One probe of the dead slave delays one live poll by ≤120 ms: ≤3 % of a 4 s window.)
    const K = 40;
    const times: number[] = [];
    const done = deferred();
    const onRequest = (ev: { unit: number; at: number }): void => {
      if (ev.unit !== 1) return;
      times.push(ev.at);
      if (times.length === K + 1) done.resolve();
    };
    sim.on('request', onRequest);
    await done.promise;
    sim.off('request', onRequest);
    const elapsed = times[K]! - times[0]!;
    const rate = (K * 1000) / elapsed;
    const intervals = times.slice(1).map((t, i) => t - times[i]!);
    const why = `live slave: ${rate.toFixed(2)} polls/s over ${K} polls; longest gap ${Math.max(...intervals)} ms`;
    expect(rate, why).toBeGreaterThan((1000 / pollMs) * 0.9);
    expect(rate, why).toBeLessThan((1000 / pollMs) * 1.1);
    // The dead slave was tried (timeouts counted) and is now backed off, not polled each cycle.
    const h = driver.health();
    expect(h.sources.dead!.errorsByCode.EDGE_DEVICE_TIMEOUT).toBeGreaterThanOrEqual(2);
    expect(h.sources.dead!.errorsByCode.EDGE_DEVICE_TIMEOUT).toBeLessThan(h.sources.live!.polls / 2);
    expect(h.sources.live!.state).toBe('ok');
    expect(h.sources.live!.errors, JSON.stringify(h.sources.live)).toBe(0);
  });

  it('reports stray bytes, bad CRC and timeouts as bad readings and counts them per slave', async () => {
    const pair = await ptyPair();
    const m = new SlaveModel();
    m.setValue('holding', 0, 1.5, 'float32', 'CDAB');
    const sim = await RtuSlaveSimulator.open({ path: pair.b, slaves: new Map([[5, m]]) });
    cleanups.push(() => sim.close());
    const driver = new ModbusDriver({
      devices: [
        {
          name: 'meter',
          transport: { kind: 'rtu', path: pair.a },
          unitId: 5,
          pollMs: 30,
          timeoutMs: 400,
          retries: 0,
          points: [{ name: 'flow', table: 'holding', address: 0, type: 'float32', order: 'CDAB', unit: 'm3/h' }],
        },
      ],
      breaker: { failureThreshold: 100, baseBackoffMs: 10, maxBackoffMs: 10 },
    });
    cleanups.push(() => driver.stop());
    const rec = new RecordingSink();
    await driver.start(rec.sink);
    expect((await rec.next())[0]).toMatchObject({ point: 'flow', value: 1.5, quality: 'good', unit: 'm3/h' });
    m.setFault({ kind: 'garbage', bytes: 11 });
    await rec.next();
    const resynced = await rec.next();
    expect(resynced[0]).toMatchObject({ quality: 'good', value: 1.5 }); // resync within the frame
    expect(driver.lineStats()[`rtu:${pair.a}`]!.strayBytes).toBeGreaterThanOrEqual(11);
    m.setFault({ kind: 'bad-crc' });
    const crc = await rec.next((b) => b[0]!.quality === 'bad');
    expect(crc[0]!.error!.code).toBe('EDGE_DEVICE_CRC');
    m.setFault({ kind: 'partial' });
    const part = await rec.next((b) => b[0]!.error?.code === 'EDGE_DEVICE_FRAME');
    expect(part[0]!.error!.message).toMatch(/incomplete reply/);
    m.setFault({ kind: 'no-reply' });
    const to = await rec.next((b) => b[0]!.error?.code === 'EDGE_DEVICE_TIMEOUT');
    expect(to[0]!.error!.message).toContain('unit 5');
    const h = driver.health().sources.meter!;
    expect(h.errorsByCode).toMatchObject({ EDGE_DEVICE_CRC: expect.any(Number), EDGE_DEVICE_FRAME: expect.any(Number), EDGE_DEVICE_TIMEOUT: expect.any(Number) });
  });

  it('reopens a vanished serial port through its symlink (by-id style) with backoff', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-byid-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const link = join(dir, 'usb-FTDI_FT232R_A1-if00-port0');
    const m = new SlaveModel();
    m.setRegisters('input', 3, [99]);
    let pair = await ptyPair({ linkA: link });
    let sim = await RtuSlaveSimulator.open({ path: pair.b, slaves: new Map([[1, m]]) });
    const driver = new ModbusDriver({
      devices: [{ name: 'rtd', transport: { kind: 'rtu', path: link }, unitId: 1, pollMs: 30, timeoutMs: 500, points: [{ name: 't', table: 'input', address: 3 }] }],
      reopen: { baseMs: 20, maxMs: 100 },
    });
    cleanups.push(() => driver.stop());
    const rec = new RecordingSink();
    await driver.start(rec.sink);
    expect((await rec.next())[0]!.value).toBe(99);
    // Unplug: socat goes away with both ptys.
    const gone = rec.next((b) => b[0]!.error?.code === 'EDGE_DEVICE_UNAVAILABLE');
    await sim.close();
    await pair.close();
    await gone;
    // Plug back in: a new pty behind the same link name.
    pair = await ptyPair({ linkA: link });
    sim = await RtuSlaveSimulator.open({ path: pair.b, slaves: new Map([[1, m]]) });
    cleanups.push(() => sim.close());
    const back = await rec.next((b) => b[0]!.quality === 'good');
    expect(back[0]!.value).toBe(99);
    expect(driver.lineStats()[`rtu:${link}`]!.reopens).toBeGreaterThanOrEqual(1);
  });
});

describe('ModbusDriver config', () => {
  it('refuses bad config at construction, naming device and point', () => {
    try {
      new ModbusDriver({ devices: [{ name: 'boiler', transport: { kind: 'tcp', host: 'x' }, unitId: 1, points: [{ name: 'p', table: 'holding', address: 0, type: 'float128' }] }] });
      expect.unreachable();
    } catch (err) {
      expect(isEdgeError(err, 'EDGE_CONFIG_INVALID')).toBe(true);
      expect((err as Error).message).toContain('device "boiler" point "p"');
    }
  });
});
