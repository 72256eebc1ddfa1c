import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../agent/core/clock.js';
import { doublingBackoff } from '../../drivers/backoff.js';
import { TcpTransport } from '../../drivers/modbus/tcp-transport.js';

describe('the drivers’ doubling backoff (core Backoff without jitter)', () => {
  it('gives base, twice, four times… capped at max, and starts over after reset', () => {
    const b = doublingBackoff(500, 30_000);
    expect(Array.from({ length: 8 }, () => b.next())).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
    b.reset();
    expect(b.next()).toBe(500);
  });

  it('spaces a Modbus TCP transport’s reconnect attempts to a dead endpoint', async () => {
    // A port nothing listens on: bind one, note it, close it.
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));

    const clock = new ManualClock(0);
    const t = new TcpTransport({ host: '127.0.0.1', port, clock, reopen: { baseMs: 100, maxMs: 300 } });
    const waits: string[] = [];
    await expect(t.open()).rejects.toThrow(/cannot connect/);
    for (const step of [100, 200, 300]) {
      // Before the wait is over the transport does not even try; the message says how long is left.
      const early = await t.open().catch((e: Error) => e.message);
      waits.push(/next attempt in (\d+) ms/.exec(String(early))?.[1] ?? String(early));
      clock.advance(step);
      await expect(t.open()).rejects.toThrow(/cannot connect/);
    }
    expect(waits).toEqual(['100', '200', '300']);
    await t.close();
  });
});
