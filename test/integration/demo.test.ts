import { afterEach, describe, expect, it } from 'vitest';
import { finished, runCli, spawnCli, untilOutput } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

interface Summary {
  readings: number;
  messagesAcked: number;
  recordsInHub: number;
  resultsInHub: number;
  reconciledRows: number;
  openGaps: number;
  unitsBilled: number;
  outboxLeft: number;
}

function lastJsonLine(stdout: string): Summary {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as Summary;
}

describe('demo: Modbus TCP simulator → agent → emulator, as a user runs it', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => cleanups.splice(0).forEach((c) => c()));

  it('demo --duration ends with every reading in the hub, as its last stdout line', async () => {
    const dir = tempDir('demo');
    cleanups.push(dir.cleanup);
    const run = await runCli(['demo', '--duration', '8s', '--data-dir', dir.path]);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.code).toBe(0);
    const summary = lastJsonLine(run.stdout);
    expect(summary.readings).toBeGreaterThan(0);
    expect(summary.recordsInHub).toBe(summary.readings);
    expect(summary.messagesAcked).toBeGreaterThan(0);
    expect(summary.messagesAcked).toBeLessThan(summary.readings);
    expect(summary.outboxLeft).toBe(0);
    // Window results flowed too, and the reconciler holds every record once, with no open gap.
    expect(summary.resultsInHub).toBeGreaterThan(0);
    expect(summary.reconciledRows).toBe(summary.recordsInHub + summary.resultsInHub);
    expect(summary.openGaps).toBe(0);
  });

  it('without --duration it runs until Ctrl-C (SIGINT), then stops cleanly with the summary', async () => {
    const dir = tempDir('demo-sigint');
    cleanups.push(dir.cleanup);
    const child = spawnCli(['demo', '--data-dir', dir.path]);
    const done = finished(child);
    // Wait for the first live line that shows readings reached the hub.
    await untilOutput(child.stderr, /in hub [1-9]/);
    child.kill('SIGINT');
    const run = await done;
    expect(run.code).toBe(0);
    const summary = lastJsonLine(run.stdout);
    expect(summary.recordsInHub).toBe(summary.readings);
    expect(summary.readings).toBeGreaterThan(0);
  });
});
