import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../agent/core/clock.js';
import { ModbusDriver } from '../../../drivers/modbus/driver.js';
import { SlaveModel } from '../../../drivers/simulators/slave-model.js';
import { TcpSlaveSimulator } from '../../../drivers/simulators/tcp-slave.js';
import { deferred } from '../support/events.js';
import { RecordingSink } from '../support/sink.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const point = [{ name: 'v', table: 'holding' as const, address: 0 }];

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('ModbusDriver over TCP', () => {
  it('polls TCP devices concurrently: both requests are out before either slow reply', async () => {
    const slow = (): SlaveModel => {
      const m = new SlaveModel();
      m.setFault({ kind: 'slow', delayMs: 300 });
      return m;
    };
    const a = await TcpSlaveSimulator.listen({ slaves: { 1: slow() } });
    const b = await TcpSlaveSimulator.listen({ slaves: { 1: slow() } });
    cleanups.push(() => a.close(), () => b.close());
    const events: string[] = [];
    const bothReplied = deferred();
    for (const [name, sim] of [['a', a], ['b', b]] as const) {
      sim.on('request', () => events.push(`${name}:request`));
      sim.on('reply', () => {
        events.push(`${name}:reply`);
        if (events.filter((e) => e.endsWith('reply')).length === 2) bothReplied.resolve();
      });
    }
    const driver = new ModbusDriver({
      devices: [
        { name: 'a', transport: { kind: 'tcp', host: a.host, port: a.port }, unitId: 1, pollMs: 60_000, timeoutMs: 2000, points: point },
        { name: 'b', transport: { kind: 'tcp', host: b.host, port: b.port }, unitId: 1, pollMs: 60_000, timeoutMs: 2000, points: point },
      ],
    });
    cleanups.push(() => driver.stop());
    await driver.start(async () => undefined);
    await bothReplied.promise;
    expect(events.slice(0, 2).sort()).toEqual(['a:request', 'b:request']);
  });

  it('keeps maxInFlight per connection: two units behind one gateway, limit 1, are asked one after the other', async () => {
    const m1 = new SlaveModel();
    const m2 = new SlaveModel();
    m1.setFault({ kind: 'slow', delayMs: 150 });
    m2.setFault({ kind: 'slow', delayMs: 150 });
    const gw = await TcpSlaveSimulator.listen({ slaves: { 1: m1, 2: m2 } });
    cleanups.push(() => gw.close());
    const events: string[] = [];
    const done = deferred();
    gw.on('request', (e) => events.push(`req${e.unit}`));
    gw.on('reply', (e) => {
      events.push(`rep${e.unit}`);
      if (events.length >= 4) done.resolve();
    });
    const t = { kind: 'tcp' as const, host: gw.host, port: gw.port, maxInFlight: 1 };
    const driver = new ModbusDriver({
      devices: [
        { name: 'u1', transport: t, unitId: 1, pollMs: 60_000, timeoutMs: 2000, points: point },
        { name: 'u2', transport: t, unitId: 2, pollMs: 60_000, timeoutMs: 2000, points: point },
      ],
    });
    cleanups.push(() => driver.stop());
    await driver.start(async () => undefined);
    await done.promise;
    expect(events.slice(0, 4)).toEqual(['req1', 'rep1', 'req2', 'rep2']);
  });

  it('a dead server: a poll inside the reconnect backoff names the real next attempt (the next poll after it), as a time', async () => {
    const port = await freePort();
    const clock = new ManualClock(0);
    const driver = new ModbusDriver(
      {
        devices: [{ name: 'dead', transport: { kind: 'tcp', host: '127.0.0.1', port }, unitId: 1, pollMs: 1000, timeoutMs: 200, points: point }],
        reopen: { baseMs: 1500, maxMs: 1500 },
        breaker: { failureThreshold: 1000, baseBackoffMs: 10, maxBackoffMs: 10 },
      },
      { clock },
    );
    cleanups.push(() => driver.stop());
    // The next poll's timer (1000 ms) is set once the first cycle is over: advance only then.
    const pollTimerSet = new Promise<void>((resolve) => {
      const setTimer = clock.setTimeout.bind(clock);
      clock.setTimeout = (fn, ms) => {
        if (ms === 1000) resolve(); // not the 3 s connect timeout
        return setTimer(fn, ms);
      };
    });
    const rec = new RecordingSink();
    const first = rec.next();
    await driver.start(rec.sink);
    // The open at start may have failed before the first poll (then the poll is already inside the backoff).
    expect((await first)[0]!.error!.message).toMatch(/cannot connect|next attempt at 1970-01-01T00:00:02\.000Z/);
    const second = rec.next();
    await pollTimerSet;
    clock.advance(1000);
    // The transport would allow a new connection at 1500 ("next attempt in 500 ms"); the next
    // request goes out with the poll at 2000.
    expect((await second)[0]!.error!.message).toBe(`127.0.0.1:${port} unreachable (reconnecting with backoff); next attempt at 1970-01-01T00:00:02.000Z (the next poll after the backoff)`);
  });

  it('reports an unreachable server as bad readings and connects once it comes up', async () => {
    const port = await freePort();
    const m = new SlaveModel();
    m.setRegisters('holding', 0, [77]);
    const driver = new ModbusDriver({
      devices: [{ name: 'late', transport: { kind: 'tcp', host: '127.0.0.1', port }, unitId: 1, pollMs: 30, timeoutMs: 200, points: point }],
      reopen: { baseMs: 20, maxMs: 50 },
      breaker: { failureThreshold: 1000, baseBackoffMs: 10, maxBackoffMs: 10 },
    });
    cleanups.push(() => driver.stop());
    const rec = new RecordingSink();
    await driver.start(rec.sink); // resolves although nothing listens
    const bad = await rec.next();
    expect(bad[0]).toMatchObject({ quality: 'bad', error: { code: 'EDGE_DEVICE_UNAVAILABLE' } });
    expect(bad[0]!.error!.message).toContain(`127.0.0.1:${port}`);
    const sim = await TcpSlaveSimulator.listen({ port, slaves: { 1: m } });
    cleanups.push(() => sim.close());
    expect((await rec.next((b) => b[0]!.quality === 'good'))[0]!.value).toBe(77);
    expect(driver.health().sources.late!.errorsByCode.EDGE_DEVICE_UNAVAILABLE).toBeGreaterThan(0);
  });
});
