import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MessageLog } from '../../../cloud/iothub/index.js';
import { childLimit } from '../../support/child.js';
import { ROOT } from '../../support/cli.js';
import { tempDir } from '../../support/tmp.js';

/** `sh -c '… | head -1'` as a user types it; the status is the CLI's (pipefail). */
function pipeToHead(cliArgs: string[]): Promise<{ stdout: string; stderr: string; code: number | null }> {
  const cli = [process.execPath, '--import', 'tsx', 'agent/cli/main.ts', ...cliArgs].map((a) => `'${a}'`).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-o', 'pipefail', '-c', `${cli} | head -1`], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], ...childLimit() });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ stdout, stderr, code }));
  });
}

describe('stdout closed early (hub read --json | head -1)', () => {
  const dir = tempDir('epipe');
  beforeAll(async () => {
    // Far more than a pipe holds (64 KiB), so the CLI is still writing when head has gone.
    const log = await MessageLog.open(dir.path, { partitionCount: 2 });
    const body = Buffer.from(JSON.stringify({ pad: 'x'.repeat(400) }));
    await Promise.all(Array.from({ length: 2000 }, (_, i) => log.append({ deviceId: 'dev', systemProperties: { 'message-id': `m${i}` }, properties: {}, body })));
    await log.close();
  });
  afterAll(() => dir.cleanup());

  it('prints the first line and ends quietly: no EPIPE stack, status 0', async () => {
    const r = await pipeToHead(['hub', 'read', '--json', '--limit', '5000', '--data-dir', dir.path]);
    expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(1);
    expect(JSON.parse(r.stdout) as { deviceId: string }).toMatchObject({ deviceId: 'dev' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});
