import { statSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../agent/config/load.js';
import { silentLogger } from '../../../agent/core/logger.js';
import { isEdgeError } from '../../../agent/core/errors.js';
import type { AgentStats } from '../../../agent/core/agent-stats.js';
import type { DiagnosticsContext } from '../../../agent/diagnostics/context.js';
import { DiagnosticsServer } from '../../../agent/diagnostics/server.js';
import { request } from '../../../agent/diagnostics/client.js';
import { LogControl } from '../../../agent/diagnostics/log-control.js';
import { tempDir } from '../../support/tmp.js';

const config = parseConfig({ hub: { connectionString: 'HostName=h;DeviceId=d;SharedAccessKey=a2V5' }, dataDir: '/x' }, 'test');

/** A context over canned stats: the server and handlers without a running pipeline. */
function stubContext(now = 1_800_000_000_000): DiagnosticsContext {
  const stats = {
    deviceId: 'd',
    boot: 'b',
    startedAt: now - 65_000,
    readings: 10,
    journalBacklog: 0,
    outboxDepth: 2,
    nextSeq: 11,
    forwarder: { messagesAcked: 1, recordsAcked: 8, bytesAcked: 100, unitsBilled: 1, sendFailures: 0, inFlight: 0 },
    transport: { state: 'connected', connectedAt: now - 60_000 },
    drivers: {},
    storage: { unsent: { reading: { records: 2, bytes: 200 } }, sent: { records: 8, bytes: 800 }, oldestUnsentTime: now - 1500, bytes: 1000, quotaBytes: 2 ** 20, evicted: {}, expired: {}, evictedRanges: [] },
    alarms: [],
  } as unknown as AgentStats;
  return {
    agent: { stats: () => stats, latestReadings: () => [], inject: () => Promise.resolve(), drain: () => Promise.resolve(true), onAccepted: () => () => undefined },
    version: '9.9.9',
    clock: { now: () => now } as DiagnosticsContext['clock'],
    fileConfig: config,
    fileDocument: {},
    filePath: '/etc/edge-agent/config.json',
    logs: new LogControl('info', { write: () => true }),
  };
}

function rawExchange(path: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = connect(path, () => c.write(text));
    let got = '';
    c.on('data', (d: Buffer) => (got += d.toString()));
    c.on('close', () => resolve(got));
    c.on('error', reject);
  });
}

describe('DiagnosticsServer', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function serve(extra: { group?: string | number } = {}) {
    const dir = tempDir('diag-server');
    cleanups.push(dir.cleanup);
    const socketPath = join(dir.path, 'run', 'diagnostics.sock');
    const server = await DiagnosticsServer.start({ socketPath, context: stubContext(), logger: silentLogger, ...extra });
    cleanups.push(() => server.close());
    return { socketPath, server, dir: dir.path };
  }

  it('answers status with the buffer summary (oldest unsent age from the stats)', async () => {
    const { socketPath } = await serve();
    const s = (await request(socketPath, 'status')) as { version: string; uptimeMs: number; buffer: { unsentRecords: number; oldestUnsentAgeMs: number } };
    expect(s.version).toBe('9.9.9');
    expect(s.uptimeMs).toBe(65_000);
    expect(s.buffer).toMatchObject({ unsentRecords: 2, oldestUnsentAgeMs: 1500 });
  });

  it('refuses what is not the protocol, and unknown commands, with a reply not a hang-up', async () => {
    const { socketPath } = await serve();
    expect(JSON.parse(await rawExchange(socketPath, 'hello\n'))).toMatchObject({ ok: false, error: { code: 'EDGE_USAGE' } });
    expect(JSON.parse(await rawExchange(socketPath, '{"cmd":"rm -rf"}\n'))).toMatchObject({ ok: false, error: { code: 'EDGE_USAGE', message: expect.stringMatching(/unknown diagnostics command/) } });
    await expect(request(socketPath, 'log-level', { level: 'loud' })).rejects.toSatisfy((e: unknown) => isEdgeError(e, 'EDGE_USAGE'));
  });

  it('replaces a stale socket file but refuses to take over a live one', async () => {
    const { socketPath, server } = await serve();
    await expect(DiagnosticsServer.start({ socketPath, context: stubContext(), logger: silentLogger })).rejects.toThrow(/another edge-agent answers/);
    await server.close();
    // A stale file, as a SIGKILLed agent leaves it.
    const stale = createServer();
    await new Promise<void>((resolve) => stale.listen(socketPath, resolve));
    (stale as unknown as { _handle: { close: () => void } })._handle.close();
    const again = await DiagnosticsServer.start({ socketPath, context: stubContext(), logger: silentLogger });
    cleanups.push(() => again.close());
    expect(((await request(socketPath, 'twin')) as { enabled: boolean }).enabled).toBe(false);
  });

  it('refuses a socket directory on a kernel pseudo filesystem at once (a recursive mkdir spun there forever)', async () => {
    const start = DiagnosticsServer.start({ socketPath: '/proc/edge-agent-test/run/diagnostics.sock', context: stubContext(), logger: silentLogger });
    await expect(start).rejects.toMatchObject({ code: 'EDGE_DATA_DIR_UNUSABLE', message: expect.stringMatching(/directory \/proc\/edge-agent-test\/run cannot be created: \/proc is on a proc pseudo filesystem/) });
  });

  it('creates the socket directory with mode 0750: nothing for others, no group write', async () => {
    const { socketPath } = await serve();
    expect(statSync(join(socketPath, '..')).mode & 0o027).toBe(0);
  });

  it('gives the socket mode 0660 and the configured group', async () => {
    const root = process.getuid?.() === 0;
    const gid = root ? 1 : process.getgid!();
    const { socketPath } = await serve({ group: gid });
    const st = statSync(socketPath);
    expect(st.mode & 0o777).toBe(0o660);
    expect(st.gid).toBe(gid);
  });

  it('names a group that does not exist', async () => {
    await expect(serve({ group: 'no-such-group-here' })).rejects.toThrow(/diagnostics.group 'no-such-group-here' is not a group on this machine/);
  });
});
