import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentStore } from '../../../agent/store/store.js';
import { finished, spawnCli, untilOutput } from '../../support/cli.js';
import { tempDir } from '../../support/tmp.js';
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

describe('edge-agent run: SIGTERM while it waits for the lock', () => {
  it('stops waiting at once and exits cleanly, without starting', { timeout: 30_000 }, async () => {
    const dir = tempDir('lock-sigterm');
    const holder = await AgentStore.open(join(dir.path, 'data', 'buffer'));
    try {
      const config = join(dir.path, 'config.json');
      writeFileSync(config, JSON.stringify({ hub: { connectionString: 'HostName=127.0.0.1:1;DeviceId=d;SharedAccessKey=a2V5' }, dataDir: join(dir.path, 'data'), diagnostics: { enabled: false } }));
      const child = spawnCli(['run', '--config', config]);
      const run = finished(child);
      await untilOutput(child.stdout, /"attempt":2,[^\n]*the buffer is still locked/);
      // The remaining waits add up to 7 s (1 + 2 + 4): the stop must not sit them out.
      const t0 = performance.now();
      child.kill('SIGTERM');
      const end = await run;
      expect(performance.now() - t0).toBeLessThan(3000);
      expect(end.code).toBe(0);
      expect(end.stdout).toMatch(/"msg":"stopped while waiting for the buffer lock; nothing was started"/);
      expect(end.stdout).not.toMatch(/edge-agent started/);
    } finally {
      await holder.close();
      dir.cleanup();
    }
  });
});
