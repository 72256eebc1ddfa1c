import { spawn } from 'node:child_process';
import { chmodSync, existsSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { childLimit, LONG_MS } from '../../support/child.js';
import { untilOutput } from '../../support/cli.js';
import { tempDir } from '../../support/tmp.js';
import { startCliAgent, type RunningCliAgent } from './running-agent.js';

/**
 * The real `systemd-notify` tool talking to a real UNIX datagram socket (socat plays systemd's
 * side): READY=1 once the agent serves, WATCHDOG=1 at half of WATCHDOG_USEC, STOPPING=1 on
 * SIGTERM. socat does not close the barrier's fd as systemd does, so the tool runs with
 * --no-block here (production waits for the barrier).
 */
describe('sd_notify from edge-agent run', () => {
  const dir = tempDir('sd-notify');
  let agent: RunningCliAgent | undefined;
  afterAll(async () => {
    await agent?.cleanup();
    dir.cleanup();
  });

  it('READY, then WATCHDOG while healthy, then STOPPING', { timeout: 60_000 }, async () => {
    const socket = join(dir.path, 'notify.sock');
    const receiver = spawn('socat', ['-u', `UNIX-RECV:${socket}`, 'STDOUT'], { stdio: ['ignore', 'pipe', 'pipe'], ...childLimit(LONG_MS) });
    const ended = new Promise<void>((resolve) => receiver.on('close', () => resolve()));
    let got = '';
    receiver.stdout.on('data', (d: Buffer) => (got += d.toString()));
    await untilExists(dir.path, 'notify.sock');
    try {
      const tool = join(dir.path, 'notify');
      writeFileSync(tool, '#!/bin/sh\nexec systemd-notify --no-block "$@"\n');
      chmodSync(tool, 0o755);
      agent = await startCliAgent({
        deviceId: 'notify-gw',
        env: { NOTIFY_SOCKET: socket, WATCHDOG_USEC: '400000', EDGE_AGENT_SYSTEMD_NOTIFY: tool },
      });
      await untilOutput(receiver.stdout, /WATCHDOG=1[^]*WATCHDOG=1[^]*WATCHDOG=1/);
      const all = got;
      expect(all).toMatch(/^READY=1\nSTATUS=running: 1 driver\(s\), buffer in .*\nMAINPID=\d+/);
      expect(all.indexOf('READY=1')).toBeLessThan(all.indexOf('WATCHDOG=1'));
      const end = await agent.stop();
      expect(end.code).toBe(0);
      expect(got).toMatch(/STOPPING=1\nSTATUS=stopping/);
      expect(end.stdout).not.toMatch(/systemd notification failed/);
    } finally {
      receiver.kill();
      await ended;
    }
  });
});

/** Resolves once `name` exists in `dir` (socat has bound its socket). */
function untilExists(dir: string, name: string): Promise<void> {
  return new Promise((resolve) => {
    const w = watch(dir, () => {
      if (existsSync(join(dir, name))) {
        w.close();
        resolve();
      }
    });
    if (existsSync(join(dir, name))) {
      w.close();
      resolve();
    }
  });
}
