import { afterEach, describe, expect, it } from 'vitest';
import type { Driver } from '../../agent/core/driver.js';
import type { Reading } from '../../agent/core/reading.js';
import { deferred } from './support/events.js';

/** A driver under test, wired to a simulator that makes it produce readings. */
export interface DriverFixture {
  driver: Driver;
  /** Source names the driver's health must list. */
  sources: string[];
  /** Makes the simulator produce data (a line for a line sensor; nothing for a polled one). */
  provoke(): Promise<void>;
  close(): Promise<void>;
}

/** The `Driver` contract of agent/core/driver.ts, run against every driver through a factory. */
export function driverConformance(name: string, factory: () => Promise<DriverFixture>): void {
  describe(`Driver conformance: ${name}`, () => {
    let fx: DriverFixture | undefined;
    afterEach(async () => {
      await fx?.driver.stop();
      await fx?.close();
      fx = undefined;
    });

    const firstBatch = async (f: DriverFixture): Promise<Reading[]> => {
      const got = deferred<Reading[]>();
      await f.driver.start(async (rs) => got.resolve(rs));
      await f.provoke();
      return got.promise;
    };

    it('start resolves and readings arrive, well formed', async () => {
      fx = await factory();
      const before = Date.now();
      const batch = await firstBatch(fx);
      expect(batch.length).toBeGreaterThan(0);
      for (const r of batch) {
        expect(fx.sources).toContain(r.source);
        expect(typeof r.point).toBe('string');
        expect(r.quality).toBe('good');
        expect(r.error).toBeUndefined();
        expect(r.receivedAt).toBeGreaterThanOrEqual(before);
        expect(['number', 'boolean', 'string']).toContain(typeof r.value);
      }
    });

    it('health lists every source; running while started, stopped after stop', async () => {
      fx = await factory();
      await firstBatch(fx);
      const h = fx.driver.health();
      expect(['running', 'degraded']).toContain(h.state);
      expect(Object.keys(h.sources).sort()).toEqual([...fx.sources].sort());
      for (const s of Object.values(h.sources)) {
        expect(s).toMatchObject({ polls: expect.any(Number), errors: expect.any(Number), errorsByCode: expect.any(Object) });
      }
      await fx.driver.stop();
      expect(fx.driver.health().state).toBe('stopped');
    });

    it('stop resolves only after the in-flight sink call has settled', async () => {
      fx = await factory();
      const gate = deferred();
      const entered = deferred();
      const order: string[] = [];
      await fx.driver.start(async () => {
        entered.resolve();
        await gate.promise;
        order.push('sink settled');
      });
      await fx.provoke();
      await entered.promise;
      const stopped = fx.driver.stop().then(() => order.push('stopped'));
      for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
      expect(order).toEqual([]);
      gate.resolve();
      await stopped;
      expect(order[0]).toBe('sink settled');
      expect(order.at(-1)).toBe('stopped');
    });

    it('refuses a second start (programmer misuse is a TypeError)', async () => {
      fx = await factory();
      await fx.driver.start(async () => undefined);
      await expect(fx.driver.start(async () => undefined)).rejects.toBeInstanceOf(TypeError);
    });
  });
}
