import { afterEach, describe, expect, it } from 'vitest';
import { loadLastGood } from '../../agent/config/last-good.js';
import { startHub } from '../support/hub.js';
import { tempDir } from '../support/tmp.js';
import { next, startTwinAgent } from '../agent/twin/support.js';

describe('twin: a null in a desired patch, through the emulator and the SDK', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('takes a setting in force back to the file value, and the next patches still apply', async () => {
    const { hub, close } = await startHub();
    cleanups.push(close);
    const dev = await hub.registerDevice('twin-null');
    const data = tempDir('twin-null');
    cleanups.push(data.cleanup);
    // The file (startTwinAgent's) sets forwarding.lingerMs to 20 and leaves log.level at its default.
    const run = await startTwinAgent(hub, dev.connectionString, data.path);
    cleanups.push(() => run.agent.stop(0));
    await next(run.reported, 'sent', (p) => p.agent !== undefined);
    expect(run.twin.config.forwarding.lingerMs).toBe(20);

    const push = async (patch: Record<string, unknown>): Promise<number> => {
      const applied = next(run.twin.events, 'applied');
      const refused = next(run.twin.events, 'refused').then(([v, r]) => {
        throw new Error(`version ${v} refused: ${r.path}: ${r.message}`);
      });
      const { version } = await hub.updateDesired('twin-null', patch);
      const [v] = await Promise.race([applied, refused]);
      expect(v).toBe(version);
      return version;
    };

    await push({ forwarding: { lingerMs: 5, maxInFlight: 2 }, log: { level: 'debug' } });
    expect(run.twin.config.forwarding).toMatchObject({ lingerMs: 5, maxInFlight: 2 });
    expect(run.twin.config.log.level).toBe('debug');

    const reset = await push({ forwarding: { lingerMs: null }, log: null });
    expect(run.twin.config.forwarding).toMatchObject({ lingerMs: 20, maxInFlight: 2 });
    expect(run.twin.config.log.level).toBe('info');
    await next(run.reported, 'sent', (p) => (p.config as { version?: number } | undefined)?.version === reset);
    expect(hub.getTwin('twin-null').reported.config).toMatchObject({ version: reset, source: 'twin' });
    // What a reboot offline lays over the file: the document without the deleted settings.
    expect((await loadLastGood(data.path)).value).toEqual({ version: reset, desired: { forwarding: { maxInFlight: 2 } }, savedAt: expect.any(Number) });

    // Not stuck: a later, unrelated patch applies.
    const later = await push({ log: { level: 'warn' } });
    expect(run.twin.configStatus().version).toBe(later);
    expect(run.twin.config.log.level).toBe('warn');
    expect(run.twin.config.forwarding.lingerMs).toBe(20);
    expect(hub.getTwin('twin-null').reported.configRefused).toBeUndefined();
  });

  it('a refusal lists every problem in the reported properties; the next refusal takes over the list', async () => {
    const { hub, close } = await startHub();
    cleanups.push(close);
    const dev = await hub.registerDevice('twin-problems');
    const data = tempDir('twin-problems');
    cleanups.push(data.cleanup);
    const run = await startTwinAgent(hub, dev.connectionString, data.path);
    cleanups.push(() => run.agent.stop(0));
    await next(run.reported, 'sent', (p) => p.agent !== undefined);
    const refuse = async (patch: Record<string, unknown>): Promise<string> => {
      const refused = next(run.twin.events, 'refused');
      const { version } = await hub.updateDesired('twin-problems', patch);
      expect((await refused)[0]).toBe(version);
      await next(run.reported, 'sent', (p) => (p.configRefused as Record<string, unknown> | undefined)?.[`v${version}`] !== undefined);
      return `v${version}`;
    };
    const first = await refuse({ colour: 'red', forwarding: { lingerMs: 'fast' }, log: { level: 'loud' } });
    const reported = () => hub.getTwin('twin-problems').reported.configRefused as Record<string, { path: string; problems?: Array<{ path: string }>; problemCount: number }>;
    expect(reported()[first]).toMatchObject({ path: 'colour', problemCount: 3 });
    expect(reported()[first]!.problems!.map((p) => p.path)).toEqual(['colour', 'forwarding.lingerMs', 'log.level']);
    const second = await refuse({ colour: null, forwarding: { maxInFlight: 0 } });
    expect(reported()[second]!.problems!.map((p) => p.path)).toEqual(['forwarding.lingerMs', 'forwarding.maxInFlight', 'log.level']);
    expect(reported()[first]).toMatchObject({ path: 'colour', problemCount: 3 });
    expect(reported()[first]!.problems).toBeUndefined();
  });
});
