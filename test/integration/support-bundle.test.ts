import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startCliAgent, type RunningCliAgent } from '../agent/diagnostics/running-agent.js';
import { execFileLimited } from '../support/child.js';
import { untilTelemetry } from '../support/hub.js';
import { runCli, untilOutput } from '../support/cli.js';

/**
 * `edge-agent run` against the emulator; the cloud asks for a support bundle and for logs by
 * direct method, the agent sends them through the SDK's file upload, and what lands in the
 * emulator's file store is opened with the system's own tar and gzip.
 */
describe('support bundle and logs by direct method, through IoT Hub file upload', () => {
  let a: RunningCliAgent | undefined;
  afterAll(async () => {
    await a?.cleanup();
  });

  it('uploadSupportBundle: a tar.gz with status, buffer, config, version and logs arrives, with no secret in it; uploadLogs honours since/level/module', { timeout: 120_000 }, async () => {
    const deviceId = 'bundle-gw';
    a = await startCliAgent({ deviceId });
    const { hub } = a;
    const key = hub.getDevice(deviceId)!.primaryKey;
    await untilTelemetry(hub, () => hub.subscriptions(deviceId).methods);
    // A refused desired config leaves a warn line (of module twin) in the agent's log, naming
    // the unknown key it refused: here the device's own key, which the bundle must not carry.
    const refused = untilOutput(a.child.stdout, /desired config refused/);
    await hub.updateDesired(deviceId, { forwarding: { [key]: 1 } });
    const warnLine = (await refused).split('\n').find((l) => l.includes('desired config refused'))!;
    expect(warnLine).toContain(key);

    const answer = await hub.invokeMethod(deviceId, 'uploadSupportBundle', {}, { responseTimeoutMs: 60_000 });
    expect(answer, JSON.stringify(answer)).toMatchObject({ status: 200, payload: { blobName: expect.stringMatching(new RegExp(`^${deviceId}/support-bundles/\\d{8}T\\d{9}Z\\.tar\\.gz$`)), bytes: expect.any(Number) } });
    const blobName = (answer.payload as { blobName: string }).blobName;
    const upload = hub.fileUploads().find((u) => u.blobName === blobName);
    expect(upload).toMatchObject({ deviceId, notification: { isSuccess: true } });

    await execFileLimited('gzip', ['-t', upload!.path!]);
    const out = join(a.dir, 'opened');
    mkdirSync(out);
    await execFileLimited('tar', ['-xzf', upload!.path!, '-C', out]);
    const [top] = readdirSync(out);
    expect(top).toMatch(/^support-bundle-bundle-gw-/);
    const files = readdirSync(join(out, top!)).sort();
    expect(files).toEqual(['buffer.json', 'config.json', 'logs.jsonl', 'manifest.json', 'status.json', 'version.json']);
    const read = (f: string) => readFileSync(join(out, top!, f), 'utf8');
    expect(JSON.parse(read('status.json'))).toMatchObject({ deviceId, connection: { state: 'connected' } });
    expect(JSON.parse(read('buffer.json'))).toHaveProperty('unsentRecords');
    expect(JSON.parse(read('version.json'))).toMatchObject({ node: process.version, boot: expect.any(String) });
    const config = JSON.parse(read('config.json')) as { effective: { hub: { connectionString: string } } };
    expect(config.effective.hub.connectionString).toMatch(new RegExp(`DeviceId=${deviceId};SharedAccessKey=\\*\\*\\*$`));
    const logLines = read('logs.jsonl').trim().split('\n').map((l) => JSON.parse(l) as { msg?: string; module?: string });
    expect(logLines.some((l) => l.msg === 'connected to IoT Hub')).toBe(true);

    // No secret anywhere: not the device key, not a SAS token, not a connection string's key.
    const grep = await execFileLimited('grep', ['-r', '-c', '-E', '-e', escapeRe(key), '-e', 'SharedAccessSignature sr=', '-e', 'sig=[^*]', '-e', 'SharedAccessKey=[^*]', out]).catch((err: { code?: number; stdout?: string }) => err);
    expect((grep as { code?: number }).code, String((grep as { stdout?: string }).stdout)).toBe(1);

    const logs = async (payload: unknown) => {
      const r = await hub.invokeMethod(deviceId, 'uploadLogs', payload, { responseTimeoutMs: 60_000 });
      expect(r.status, JSON.stringify(r.payload)).toBe(200);
      const name = (r.payload as { blobName: string }).blobName;
      expect(name).toMatch(new RegExp(`^${deviceId}/logs/.*\\.jsonl\\.gz$`));
      const path = hub.fileUploads().find((u) => u.blobName === name)!.path!;
      const { stdout } = await execFileLimited('gzip', ['-dc', path]);
      expect(stdout).not.toContain(key);
      return stdout.split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as { level: number; module?: string; time: number; msg?: string });
    };
    const all = await logs({});
    expect(all.length).toBeGreaterThan(3);
    const warn = await logs({ level: 'warn' });
    expect(warn.length).toBeGreaterThan(0);
    expect(warn.every((l) => l.level >= 40)).toBe(true);
    expect(warn.length).toBeLessThan(all.length);
    const transport = await logs({ module: 'transport' });
    expect(transport.length).toBeGreaterThan(0);
    expect(transport.every((l) => l.module === 'transport')).toBe(true);
    const cut = all[Math.floor(all.length / 2)]!.time;
    const recent = await logs({ since: new Date(cut).toISOString() });
    expect(recent.length).toBeGreaterThan(0);
    expect(recent.every((l) => l.time >= cut)).toBe(true);
    expect(recent.length).toBeLessThan((await logs({ since: '1h' })).length);

    // The hub CLI lists and fetches what arrived.
    const listed = await runCli(['hub', 'files', 'list', '--data-dir', hub.dataDir, '--device', deviceId]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout.split('\n').filter((l) => l.endsWith('\tnotified'))).toHaveLength(6);
    expect(listed.stdout).toContain(`${blobName}\t${upload!.bytes}\t`);
    const copy = join(a.dir, 'fetched.tar.gz');
    const got = await runCli(['hub', 'files', 'get', blobName, '--out', copy, '--data-dir', hub.dataDir]);
    expect(got.code, got.stderr).toBe(0);
    expect(readFileSync(copy).equals(readFileSync(upload!.path!))).toBe(true);
    expect((await runCli(['hub', 'files', 'get', 'nope', '--out', copy, '--data-dir', hub.dataDir])).stderr).toMatch(/no uploaded file nope/);

    expect(await hub.invokeMethod(deviceId, 'uploadLogs', { level: 'loud' })).toMatchObject({ status: 400, payload: { error: { code: 'EDGE_USAGE' } } });
    expect(await hub.invokeMethod(deviceId, 'uploadLogs', { since: 'yesterday-ish' })).toMatchObject({ status: 400 });
  });
});

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
