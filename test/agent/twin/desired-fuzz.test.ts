import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../agent/core/clock.js';
import { silentLogger } from '../../../agent/core/logger.js';
import { parseConfig } from '../../../agent/config/load.js';
import { agentConfigSchema, type AgentConfig } from '../../../agent/config/schema.js';
import { applyMergePatch, type JsonObject } from '../../../agent/config/overlay.js';
import { DesiredState } from '../../../agent/twin/desired-state.js';
import { DesiredController } from '../../../agent/twin/desired-controller.js';
import { mergeKeepingNulls } from '../../../agent/twin/report-throttle.js';

const file = parseConfig(
  {
    hub: { connectionString: 'HostName=h;DeviceId=d;SharedAccessKey=AAAA' },
    dataDir: '/tmp/x',
    drivers: [{ type: 'synthetic', name: 'sim', source: 's', points: [{ name: 'p' }] }],
    twin: { maxDesiredBytes: 2048 },
  },
  'test',
);

/** Values that are sometimes right and mostly wrong: types, nulls, nesting, size. */
const junk = fc.oneof(
  fc.constant(null),
  fc.integer({ min: -5, max: 100_000 }),
  fc.double(),
  fc.boolean(),
  fc.string({ maxLength: 8 }),
  fc.constantFrom('adjust', 'drop', 'revise', 'info', 'debug', 'SELECT'),
  fc.string({ minLength: 1500, maxLength: 3000 }),
  fc.jsonValue({ maxDepth: 12 }),
);
const section = fc.constantFrom('forwarding', 'analytics', 'log', 'twin', 'connection', 'storage', 'drivers', 'hub', 'dataDir', 'bogus');
const field = fc.constantFrom('lingerMs', 'maxInFlight', 'level', 'policy', 'tolerances', 'queries', 'reportMinIntervalMs', 'livenessIntervalMs', 'quotaBytes', 'unknownKey');
const body = fc.dictionary(section, fc.oneof(junk, fc.dictionary(field, junk, { maxKeys: 3 })), { maxKeys: 3 });
/** Mostly the next version, sometimes stale/repeated or skipping one. */
const step = fc.record({ body, versionDelta: fc.constantFrom(1, 1, 1, 1, 0, -1, 2) });

interface Run {
  controller: DesiredController;
  reported: JsonObject;
  applied: AgentConfig[];
  resyncs: number;
}

function setup(): Run {
  const run: Run = { reported: {}, applied: [], resyncs: 0 } as unknown as Run;
  run.controller = new DesiredController({
    state: new DesiredState(file),
    initial: { config: file, source: 'file' },
    apply: async (next) => {
      // A config that passes the schema but fails to start must be rolled back.
      if (next.forwarding.lingerMs === 777) throw new Error('driver refused to start');
      run.applied.push(next);
    },
    persist: async () => undefined,
    report: (patch) => {
      run.reported = mergeKeepingNulls(run.reported, patch);
    },
    resync: () => run.resyncs++,
    clock: new ManualClock(1000),
    logger: silentLogger,
  });
  return run;
}

describe('desired patches, fuzzed', () => {
  it('never crash, apply whole or not at all, and report every refusal', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 8 }), fc.boolean(), async (steps, startWithFull) => {
        const run = setup();
        let hub: JsonObject = {};
        let version = 1;
        await run.controller.offerFull({ $version: version });
        if (startWithFull) {
          version++;
          hub = { forwarding: { lingerMs: 250 } };
          await run.controller.offerFull({ ...hub, $version: version });
        }
        for (const s of steps) {
          const before = run.controller.config;
          const beforeStatus = run.controller.configStatus();
          const v = version + s.versionDelta;
          const refusedBefore = JSON.stringify((run.reported.configRefused as JsonObject | undefined)?.[`v${v}`]);
          const resyncsBefore = run.resyncs;
          await run.controller.offerPatch({ ...s.body, $version: v });
          if (v > version) hub = applyMergePatch(hub, s.body);
          // What the twin sync does on a resync: GET the whole twin.
          if (run.resyncs > resyncsBefore) await run.controller.offerFull({ ...hub, $version: v });
          version = Math.max(version, v);
          const after = run.controller.config;
          const status = run.controller.configStatus();
          if (status.version === v && beforeStatus.version !== v) {
            // Applied: the whole new config is valid, and it is what the agent now runs.
            expect(agentConfigSchema.safeParse(after).success).toBe(true);
            // An unchanged config is accepted without a live apply.
            if (JSON.stringify(after) !== JSON.stringify(before)) expect(run.applied.at(-1)).toBe(after);
            expect((run.reported.config as JsonObject).version).toBe(v);
          } else {
            // Not applied: nothing changed, and (unless the patch only made us resync) it was reported.
            expect(after).toBe(before);
            expect(status.version).toBe(beforeStatus.version);
            const entry = (run.reported.configRefused as JsonObject | undefined)?.[`v${v}`] as { path: string; message: string; at: string } | undefined;
            expect(entry, `version ${v} neither applied nor reported`).toBeDefined();
            expect(entry!.message.length).toBeGreaterThan(0);
            expect(typeof entry!.path).toBe('string');
            if (s.versionDelta <= 0) expect(entry!.message).toMatch(/stale or repeated/);
            else expect(JSON.stringify(entry)).not.toBe(refusedBefore);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a null takes a setting in force back to the file value (or the default), and later patches apply', async () => {
    const run = setup();
    await run.controller.offerFull({ $version: 1, forwarding: { lingerMs: 300, maxInFlight: 2 }, log: { level: 'warn' } });
    expect(run.controller.config.forwarding).toMatchObject({ lingerMs: 300, maxInFlight: 2 });
    await run.controller.offerPatch({ $version: 2, forwarding: { lingerMs: null } });
    expect(run.controller.configStatus().version).toBe(2);
    // The file sets no lingerMs: the default comes back; the sibling set by the twin stays.
    expect(run.controller.config.forwarding).toMatchObject({ lingerMs: file.forwarding.lingerMs, maxInFlight: 2 });
    expect(run.controller.config.log.level).toBe('warn');
    await run.controller.offerPatch({ $version: 3, log: { level: 'debug' } });
    expect(run.controller.configStatus().version).toBe(3);
    expect(run.controller.config.log.level).toBe('debug');
    // A whole section deleted: every setting of it is the file's again.
    await run.controller.offerPatch({ $version: 4, forwarding: null });
    expect(run.controller.configStatus().version).toBe(4);
    expect(run.controller.config.forwarding).toEqual(file.forwarding);
    expect(run.reported.configRefused).toBeUndefined();
  });

  it('a null goes back to the value the file sets, not to the default', async () => {
    const fileWithDrivers = parseConfig(
      { hub: { connectionString: 'HostName=h;DeviceId=d;SharedAccessKey=AAAA' }, dataDir: '/tmp/x', drivers: [{ type: 'synthetic', name: 'sim', source: 's', points: [{ name: 'p' }] }], storage: { retentionMs: 1234 } },
      'test',
    );
    const controller = new DesiredController({
      state: new DesiredState(fileWithDrivers),
      initial: { config: fileWithDrivers, source: 'file' },
      apply: async () => undefined,
      persist: async () => undefined,
      report: () => undefined,
      resync: () => undefined,
      clock: new ManualClock(1000),
      logger: silentLogger,
    });
    await controller.offerFull({ $version: 1, storage: { retentionMs: 99 }, drivers: [] });
    expect(controller.config.storage.retentionMs).toBe(99);
    expect(controller.config.drivers).toEqual([]);
    await controller.offerPatch({ $version: 2, storage: { retentionMs: null }, drivers: null });
    expect(controller.configStatus().version).toBe(2);
    expect(controller.config.storage.retentionMs).toBe(1234);
    expect(controller.config.drivers).toEqual(fileWithDrivers.drivers);
  });

  it('a refused push followed by a fixing push applies both, as the operator meant', async () => {
    const run = setup();
    await run.controller.offerFull({ $version: 1 });
    await run.controller.offerPatch({ $version: 2, log: { level: 'debug' }, forwarding: { lingerMs: 'x' } });
    expect(run.controller.configStatus()).toMatchObject({ version: 1, lastRefusal: { version: 2, path: 'forwarding.lingerMs' } });
    await run.controller.offerPatch({ $version: 3, forwarding: { lingerMs: 10 } });
    expect(run.controller.configStatus().version).toBe(3);
    expect(run.controller.config.log.level).toBe('debug');
  });

  it('an apply that fails is rolled back and refused', async () => {
    const run = setup();
    await run.controller.offerFull({ $version: 1 });
    const v1 = run.controller.config;
    await run.controller.offerPatch({ $version: 2, forwarding: { lingerMs: 777 } });
    expect(run.controller.config).toBe(v1);
    expect(run.applied.at(-1)).toBe(v1); // rolled back by applying v1 again
    expect((run.reported.configRefused as JsonObject).v2).toMatchObject({ path: '(apply)' });
  });
});
