import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../agent/core/clock.js';
import { LogControl } from '../../../agent/diagnostics/log-control.js';
import { buildLogsFile, buildSupportBundle, type BundleSources } from '../../../agent/support-bundle/bundle.js';
import { matchesFilter, parseLogFilter } from '../../../agent/support-bundle/log-filter.js';
import { maskPatterns, redactFields, secretsIn } from '../../../agent/support-bundle/redact.js';
import { tarGz } from '../../../agent/support-bundle/tar.js';
import { execFileLimited } from '../../support/child.js';
import { tempDir } from '../../support/tmp.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function dir(): string {
  const d = tempDir('bundle');
  cleanups.push(d.cleanup);
  return d.path;
}

async function untar(archive: Buffer): Promise<string> {
  const d = dir();
  writeFileSync(join(d, 'a.tar.gz'), archive);
  mkdirSync(join(d, 'x'));
  await execFileLimited('tar', ['-xzf', join(d, 'a.tar.gz'), '-C', join(d, 'x')]);
  return join(d, 'x');
}

const KEY = Buffer.alloc(32, 7).toString('base64');
const SAS = `SharedAccessSignature sr=hub.example%2Fdevices%2Fgw&sig=${encodeURIComponent(Buffer.alloc(32, 9).toString('base64'))}&se=1893456000`;

describe('support bundle parts', () => {
  it('tarGz: files of 0, 511, 512, 513 and 70,000 bytes come back from the system tar byte for byte', async () => {
    const sizes = [0, 511, 512, 513, 70_000];
    const entries = sizes.map((n, i) => ({ name: `top/f${i}.bin`, data: Buffer.alloc(n, i + 1), mtimeMs: Date.UTC(2026, 0, 2) }));
    const out = await untar(tarGz(entries));
    for (const e of entries) expect(readFileSync(join(out, e.name)).equals(e.data), e.name).toBe(true);
    const { stdout } = await execFileLimited('tar', ['-tvzf', join(out, '..', 'a.tar.gz')], { env: { ...process.env, TZ: 'UTC' } });
    expect(stdout).toMatch(/-rw-r--r-- .*2026-01-02/);
  });

  it('redaction: secret-named fields, connection-string keys, SAS tokens, sig= and private keys are masked', () => {
    expect(redactFields({ hub: { connectionString: `HostName=h;DeviceId=d;SharedAccessKey=${KEY}`, symmetricKey: KEY, keyFile: '/etc/k.pem' }, sasToken: 'x', n: 1 })).toEqual({
      hub: { connectionString: 'HostName=h;DeviceId=d;SharedAccessKey=***', symmetricKey: '***', keyFile: '/etc/k.pem' },
      sasToken: '***',
      n: 1,
    });
    expect(maskPatterns(`auth ${SAS} then https://s/c/b?sv=1&sig=abc%3D&se=2`)).toBe('auth SharedAccessSignature *** then https://s/c/b?sv=1&sig=***&se=2');
    expect(secretsIn({ hub: { connectionString: `HostName=h;DeviceId=d;SharedAccessKey=${KEY}`, caFile: '/ca.pem' }, provisioning: { attestation: { symmetricKey: 'group-derived-key-1234' } }, list: [{ passphrase: 'pass-phrase-5678' }] }).sort()).toEqual([KEY, 'group-derived-key-1234', 'pass-phrase-5678'].sort());
    expect(maskPatterns('-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----')).toBe('-----BEGIN PRIVATE KEY-----***-----END PRIVATE KEY-----');
  });

  it('log filters: since (ISO or duration), level and module, and clear refusals', () => {
    const now = Date.UTC(2026, 11, 1, 12);
    expect(parseLogFilter({ since: '15m', level: 'warn', module: 'transport' }, now)).toEqual({ sinceMs: now - 900_000, minLevel: 40, module: 'transport' });
    expect(parseLogFilter({ since: '2026-12-01T11:00:00Z' }, now)).toEqual({ sinceMs: now - 3_600_000 });
    expect(parseLogFilter(undefined, now)).toEqual({});
    expect(() => parseLogFilter({ level: 'loud' }, now)).toThrow(/level is one of/);
    expect(() => parseLogFilter({ since: 'soon' }, now)).toThrow(/since/);
    expect(() => parseLogFilter([1], now)).toThrow(/object/);
    const e = { level: 40, time: now, module: 'twin' };
    expect(matchesFilter(e, { minLevel: 40, module: 'twin', sinceMs: now })).toBe(true);
    expect(matchesFilter(e, { minLevel: 50 })).toBe(false);
    expect(matchesFilter(e, { module: 'transport' })).toBe(false);
    expect(matchesFilter(e, { sinceMs: now + 1 })).toBe(false);
  });

  it('a bundle from a real logger holds no planted secret in any file, and a failing part is reported, not fatal', async () => {
    const clock = new ManualClock(Date.UTC(2026, 11, 1, 12));
    const logs = new LogControl('info', new Writable({ write: (_c, _e, cb) => cb() }));
    const log = logs.logger.child({ module: 'transport' });
    log.info({ token: SAS }, 'connecting');
    log.warn(`refused: ${SAS}`);
    log.error({ err: `the key ${KEY} was not accepted` }, 'auth failed');
    logs.logger.child({ module: 'twin' }).info({ connectionString: `HostName=h;DeviceId=gw;SharedAccessKey=${KEY}` }, 'config');
    const sources: BundleSources = {
      deviceId: 'gw',
      agentVersion: '9.9.9',
      boot: () => 'boot-1',
      startedAt: () => clock.now() - 5000,
      clock,
      logs: () => logs.tail(Number.MAX_SAFE_INTEGER),
      status: () => Promise.resolve({ deviceId: 'gw', lastError: `bad ${SAS}` }),
      buffer: () => Promise.reject(new Error('store closed')),
      config: () => Promise.resolve({ hub: { connectionString: `HostName=h;DeviceId=gw;SharedAccessKey=${KEY}` } }),
      secrets: () => [KEY],
    };
    const bundle = await buildSupportBundle(sources, {});
    expect(bundle.name).toBe('support-bundles/20261201T120000000Z.tar.gz');
    const out = await untar(bundle.data);
    const top = join(out, 'support-bundle-gw-20261201T120000000Z');
    expect(JSON.parse(readFileSync(join(top, 'buffer.json'), 'utf8'))).toEqual({ error: 'store closed' });
    expect(JSON.parse(readFileSync(join(top, 'manifest.json'), 'utf8'))).toMatchObject({ deviceId: 'gw', agentVersion: '9.9.9', logs: { lines: 4 } });
    const grep = await execFileLimited('grep', ['-r', '-c', '-F', '-e', KEY, '-e', encodeURIComponent(KEY), '-e', 'sr=hub', out]).catch((err: { code?: number }) => err);
    expect((grep as { code?: number }).code).toBe(1);
    expect(readFileSync(join(top, 'logs.jsonl'), 'utf8')).toContain('"msg":"auth failed"');

    const onlyTransportWarn = buildLogsFile(sources, { module: 'transport', minLevel: 40 });
    const d = dir();
    writeFileSync(join(d, 'l.gz'), onlyTransportWarn.data);
    const lines = (await execFileLimited('gzip', ['-dc', join(d, 'l.gz')])).stdout.trim().split('\n').map((l) => JSON.parse(l) as { msg: string });
    expect(lines.map((l) => l.msg)).toEqual(['refused: SharedAccessSignature ***', 'auth failed']);
  });
});
