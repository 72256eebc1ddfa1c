import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { agentConfigSchema } from '../../agent/config/schema.js';
import type { Refusal } from '../../agent/config/overlay.js';
import { recordsOf, startHub, untilTelemetry } from '../support/hub.js';
import { tempDir } from '../support/tmp.js';
import { next, startTwinAgent } from '../agent/twin/support.js';

/** Values that are sometimes right and mostly wrong: types, nulls, nesting, size. */
const value = fc.oneof(
  fc.constant(null),
  fc.integer({ min: -5, max: 70_000 }),
  fc.boolean(),
  fc.constantFrom('debug', 'warn', 'adjust', 'drop', 'SELECT x FROM', ''),
  fc.string({ maxLength: 6 }),
  fc.string({ minLength: 3000, maxLength: 6000 }),
  fc.jsonValue({ maxDepth: 4 }),
);
const field = fc.constantFrom('lingerMs', 'maxInFlight', 'level', 'policy', 'lateArrivalMs', 'tolerances', 'queries', 'reportMinIntervalMs', 'bogus');
const junk = fc.dictionary(fc.constantFrom('forwarding', 'log', 'analytics', 'twin', 'storage', 'dataDir', 'colour'), fc.oneof(value, fc.dictionary(field, value, { maxKeys: 3 })), { minKeys: 1, maxKeys: 2 });
/** Good changes too, so that applying is exercised as much as refusing. */
const good = fc.oneof(
  fc.record({ forwarding: fc.record({ lingerMs: fc.integer({ min: 0, max: 50 }) }) }),
  fc.record({ log: fc.record({ level: fc.constantFrom('debug', 'info', 'warn') }) }),
  fc.record({ analytics: fc.record({ tolerances: fc.record({ lateArrivalMs: fc.integer({ min: 0, max: 60_000 }), policy: fc.constantFrom('adjust', 'drop') }) }) }),
);
const patch = fc.oneof(junk, good);

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The merge patch that turns `from` into `to` (what an operator sends to take a bad push back). */
function diff(from: Json, to: Json): Json {
  const out: Json = {};
  for (const k of Object.keys(from)) if (!(k in to)) out[k] = null;
  for (const [k, v] of Object.entries(to)) {
    const f = from[k];
    if (isObj(f) && isObj(v)) {
      const d = diff(f, v);
      if (Object.keys(d).length > 0) out[k] = d;
    } else if (JSON.stringify(f) !== JSON.stringify(v)) out[k] = v;
  }
  return out;
}

function desiredOf(doc: Json): Json {
  return Object.fromEntries(Object.entries(doc).filter(([k]) => !k.startsWith('$')));
}

describe('twin: desired patches fuzzed end to end through the emulator and the SDK', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('the agent never crashes, applies whole or not at all, and reports every refusal', async () => {
    const { hub, close } = await startHub();
    cleanups.push(close);
    const dev = await hub.registerDevice('twin-fuzz');
    const data = tempDir('twin-fuzz');
    cleanups.push(data.cleanup);
    // twin.reportMinIntervalMs must stay fast: the fuzzer may set it, so the file config keeps it at its floor.
    const run = await startTwinAgent(hub, dev.connectionString, data.path, { twin: { reportMinIntervalMs: 100, maxDesiredBytes: 4096 } });
    let stopped = false;
    cleanups.push(async () => {
      if (!stopped) await run.agent.stop(0);
    });
    await next(run.reported, 'sent', (p) => p.agent !== undefined);
    const decided = new Map<number, 'applied' | Refusal>();
    const waiters = new Map<number, () => void>();
    run.twin.events.on('applied', (v) => (decided.set(v, 'applied'), waiters.get(v)?.()));
    run.twin.events.on('refused', (v, r) => (decided.set(v, r), waiters.get(v)?.()));
    let reported: Record<string, unknown> = {};
    run.reported.on('sent', (p) => (reported = { ...reported, ...(p.configRefused as object | undefined) }));
    let hubRefused = 0;
    let refusedByAgent = 0;
    let applied = 0;
    let goodDesired = desiredOf(hub.getTwin('twin-fuzz').desired);
    const decision = async (version: number) => {
      if (!decided.has(version)) await new Promise<void>((resolve) => waiters.set(version, resolve));
      return decided.get(version)!;
    };

    await fc.assert(
      fc.asyncProperty(patch, async (p) => {
        const before = run.twin.config;
        const beforeVersion = run.twin.configStatus().version;
        let version: number;
        try {
          ({ version } = await hub.updateDesired('twin-fuzz', p));
        } catch {
          hubRefused++; // IoT Hub itself refuses it (bad key, too deep, too big): never reaches the device
          return;
        }
        const d = await decision(version);
        if (d === 'applied') {
          applied++;
          goodDesired = desiredOf(hub.getTwin('twin-fuzz').desired);
          expect(run.twin.configStatus().version).toBe(version);
          expect(agentConfigSchema.safeParse(run.twin.config).success).toBe(true);
        } else {
          refusedByAgent++;
          expect(run.twin.config).toBe(before);
          expect(run.twin.configStatus().version).toBe(beforeVersion);
          if (reported[`v${version}`] === undefined) await next(run.reported, 'sent', (s) => (s.configRefused as Record<string, unknown> | undefined)?.[`v${version}`] !== undefined);
          expect(reported[`v${version}`]).toMatchObject({ path: d.path, message: expect.any(String) });
          // The operator takes the bad push back: the desired document is the good one again, and applied.
          const repair = diff(desiredOf(hub.getTwin('twin-fuzz').desired), goodDesired);
          if (Object.keys(repair).length > 0) {
            const r = await hub.updateDesired('twin-fuzz', repair);
            expect(await decision(r.version)).toBe('applied');
            expect(run.twin.config).toEqual(before);
          }
        }
      }),
      { numRuns: 40 },
    );
    console.log(`fuzzed 40 desired patches: ${applied} applied, ${refusedByAgent} refused by the agent (each then taken back), ${hubRefused} refused by the hub`);
    expect(refusedByAgent).toBeGreaterThan(0);
    expect(applied).toBeGreaterThan(0);

    // Still alive and delivering: every reading accepted reaches the hub.
    const n = run.agent.stats().readings;
    await untilTelemetry(hub, async () => (await recordsOf(hub, 'twin-fuzz')).some((r) => r.seq > n));
    await run.agent.stop(10_000);
    stopped = true;
    const seqs = [...new Set((await recordsOf(hub, 'twin-fuzz')).map((r) => r.seq))].sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: run.agent.stats().nextSeq - 1 }, (_, i) => i + 1));
  });
});
