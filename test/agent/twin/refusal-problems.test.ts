import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../agent/core/clock.js';
import { silentLogger } from '../../../agent/core/logger.js';
import { parseConfig } from '../../../agent/config/load.js';
import type { JsonObject } from '../../../agent/config/overlay.js';
import { DesiredState } from '../../../agent/twin/desired-state.js';
import { DesiredController, REPORTED_PROBLEMS, REPORTED_REFUSALS } from '../../../agent/twin/desired-controller.js';
import { mergeKeepingNulls } from '../../../agent/twin/report-throttle.js';

const file = parseConfig({ hub: { connectionString: 'HostName=h;DeviceId=d;SharedAccessKey=AAAA' }, dataDir: '/tmp/x' }, 'test');

function setup(): { controller: DesiredController; reported: () => JsonObject } {
  let reported: JsonObject = {};
  const controller = new DesiredController({
    state: new DesiredState(file),
    initial: { config: file, source: 'file' },
    apply: async () => undefined,
    persist: async () => undefined,
    report: (patch) => (reported = mergeKeepingNulls(reported, patch)),
    resync: () => undefined,
    clock: new ManualClock(1000),
    logger: silentLogger,
  });
  return { controller, reported: () => reported };
}

type Entry = { path: string; message: string; problems: Array<{ path: string; message: string }>; problemCount: number };

describe('a refusal in the reported properties', () => {
  it('lists every problem, file-only sections and unknown keys included, not only the first', async () => {
    const { controller, reported } = setup();
    await controller.offerFull({ $version: 1 });
    await controller.offerPatch({ $version: 2, hub: { connectionString: 'x' }, colour: 'red', forwarding: { lingerMs: 'fast', maxInFlight: 0 }, log: { level: 'loud' } });
    const entry = (reported().configRefused as Record<string, Entry>).v2!;
    expect(entry.problemCount).toBe(5);
    expect(entry.problems.map((p) => p.path)).toEqual(['hub', 'colour', 'forwarding.lingerMs', 'forwarding.maxInFlight', 'log.level']);
    expect(entry).toMatchObject({ path: 'hub', message: expect.stringMatching(/and 4 more problems/) });
  });

  it('is bounded: the first 20 problems and how many there were', async () => {
    const { controller, reported } = setup();
    await controller.offerFull({ $version: 1 });
    const queries = Array.from({ length: 30 }, (_, i) => ({ name: `${i} bad name`, query: 'SELECT 1 FROM readings' }));
    await controller.offerPatch({ $version: 2, analytics: { queries } });
    const entry = (reported().configRefused as Record<string, Entry>).v2!;
    expect(entry.problemCount).toBe(30);
    expect(entry.problems).toHaveLength(REPORTED_PROBLEMS);
    expect(entry.problems[0]).toEqual({ path: 'analytics.queries.0.name', message: expect.stringMatching(/query name/) });
    expect(entry.problems[19]!.path).toBe('analytics.queries.19.name');
  });

  it('keeps the reported properties small even when every refusal has long problems', async () => {
    const { controller, reported } = setup();
    await controller.offerFull({ $version: 1 });
    const long = 'SELEC ' + 'x'.repeat(1000);
    for (let v = 2; v < 2 + REPORTED_REFUSALS + 3; v++) {
      await controller.offerPatch({ $version: v, analytics: { queries: Array.from({ length: 25 }, (_, i) => ({ name: `q${i}`, query: long })) } });
    }
    const refused = reported().configRefused as Record<string, Partial<Entry> | null>;
    const kept = Object.entries(refused).filter(([, e]) => e !== null);
    expect(kept).toHaveLength(REPORTED_REFUSALS);
    expect(kept.every(([, e]) => e!.problemCount === 25 && e!.path === 'analytics.queries.0.query')).toBe(true);
    // The newest refusal lists its problems; the older ones had theirs deleted (null) when it came.
    const newest = `v${REPORTED_REFUSALS + 4}`;
    expect(refused[newest]!.problems).toHaveLength(REPORTED_PROBLEMS);
    expect(kept.filter(([k, e]) => k !== newest && e!.problems !== null)).toEqual([]);
    // IoT Hub's reported section is at most 32 KB; the refusals take well under half.
    expect(Buffer.byteLength(JSON.stringify(refused))).toBeLessThan(16 * 1024);
  });
});
