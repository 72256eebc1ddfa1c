import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentStore } from '../../../agent/store/store.js';
import { untilOutput } from '../../support/cli.js';
import { startCliAgent, type RunningCliAgent } from '../diagnostics/running-agent.js';

/**
 * A restart storm: the previous process may still hold the LevelDB lock when systemd starts the
 * next. `edge-agent run` retries a few times with backoff instead of failing on the first try.
 */
describe('edge-agent run: a buffer lock briefly held', () => {
  let a: RunningCliAgent | undefined;
  afterEach(async () => {
    await a?.cleanup();
    a = undefined;
  });

  it('retries, then starts once the lock is released', { timeout: 60_000 }, async () => {
    let holder: AgentStore | undefined;
    a = await startCliAgent({
      deviceId: 'lock-gw',
      beforeStart: async (dataDir) => {
        holder = await AgentStore.open(join(dataDir, 'buffer'));
      },
      whileStarting: async (child) => {
        await untilOutput(child.stdout, /"attempt":2,[^\n]*the buffer is still locked/);
        await holder!.close();
      },
    });
    expect(a.output()).toMatch(/"attempt":1,"retryInMs":250,"msg":"the buffer is still locked \(a previous run exiting\?\); retrying"/);
    const end = await a.stop();
    expect(end.code).toBe(0);
    expect(end.stderr).toBe('');
  });
});
