import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from 'azure-iot-device';
import { IotHubEmulator } from '../../../cloud/iothub/index.js';
import { SqliteStore } from '../../../cloud/reconciler/index.js';
import { answerResend, connectSdkDevice, sendWire, untilSubscribed } from './support/sdk-device.js';
import { AgentScript, packMessage } from './support/wire-builder.js';
import type { AgentState } from './support/scenario.js';
import { openTestLog, type TestLog } from './support/real-log.js';
import { buildScenario } from './support/scenario.js';
import { postgresStores } from './support/stores.js';
import { runCli, spawnCli, untilOutput } from '../../support/cli.js';

/** Runs `edge-agent …` as a user would, from source. */
const cli = (args: string[]) => runCli(args, { EDGE_LOG_LEVEL: 'warn' });

const noStack = (s: string) => expect(s).not.toMatch(/^\s+at /m);

describe('edge-agent cloud (CLI)', () => {
  let log: TestLog;
  let work: string;
  let store: string;
  // Evicted drops and no emulator running to ask: the gaps stay open and are listed.
  const scenario = buildScenario({ seed: 77, devices: 3, recordsPerDevice: 200, dropRate: 0.1, evictRate: 1, duplicateRate: 0.2 });

  beforeAll(async () => {
    log = await openTestLog(scenario.deliveries);
    work = await mkdtemp(join(tmpdir(), 'reconciler-cli-'));
    store = join(work, 'r.db');
  });
  afterAll(async () => {
    await log.close();
    await rm(work, { recursive: true, force: true });
  });

  it('run --once drains the emulator log into the store and prints a summary line', async () => {
    const r = await cli(['cloud', 'run', '--hub-data-dir', log.dir, '--store', `sqlite:${store}`, '--once']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const expectedRows = scenario.truth.results.length + scenario.truth.readings.length + scenario.truth.events.length;
    expect(r.stdout).toMatch(new RegExp(`^events=${scenario.deliveries.length} accepted=\\d+ duplicates=\\d+ rejected=0 rejectedRecords=0 resendRequests=0 reconciledRows=${expectedRows} openGaps=[1-9]\\d* lostRecords=0\\n$`));
  });

  it('results --json prints what the store holds; filters apply', async () => {
    const s = new SqliteStore(store);
    await s.migrate();
    const all = await s.results();
    const filtered = await s.results({ device: 'dev-001', query: 'avg_temp', from: all[3]!.we });
    await s.close();
    const [a, b] = await Promise.all([
      cli(['cloud', 'results', '--store', `sqlite:${store}`, '--json']),
      cli(['cloud', 'results', '--store', `sqlite:${store}`, '--json', '--device', 'dev-001', '--query', 'avg_temp', '--from', new Date(all[3]!.we).toISOString()]),
    ]);
    expect(JSON.parse(a.stdout)).toEqual(all);
    expect(JSON.parse(b.stdout)).toEqual(filtered);
    expect(filtered.length).toBeGreaterThan(0);
  });

  it('results and gaps print aligned tables', async () => {
    const [results, gaps] = await Promise.all([
      cli(['cloud', 'results', '--store', `sqlite:${store}`, '--device', 'dev-002', '--limit', '5']),
      cli(['cloud', 'gaps', '--store', `sqlite:${store}`]),
    ]);
    for (const r of [results, gaps]) {
      expect(r.code).toBe(0);
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines.length).toBeGreaterThan(1);
      // Every column after the first starts at the same offset in the header and in each row.
      const header = lines[0]!;
      const starts = [...header.matchAll(/ {2}(\S)/g)].map((m) => m.index! + 2);
      for (const line of lines.slice(1)) for (const at of starts) expect(line[at - 1], `${line}\n${header}`).toBe(' ');
    }
    expect(results.stdout.split('\n')[0]).toMatch(/^DEVICE\s+QUERY\s+OUT\s+KEY\s+WINDOW START\s+WINDOW END\s+REV\s+ROW$/);
    expect(results.stdout.trimEnd().split('\n')).toHaveLength(6);
    expect(gaps.stdout).toMatch(/\bopen\b/);
  });

  it('results --query Q --view prints the query view: a column per alias, ISO times, keys, complete', async () => {
    const s = new SqliteStore(store);
    await s.migrate();
    const view = await s.viewRows('avg_temp', 'out');
    await s.close();
    const base = ['cloud', 'results', '--store', `sqlite:${store}`, '--query', 'avg_temp', '--view'];
    const [json, text, bad] = await Promise.all([cli([...base, '--json']), cli([...base, '--device', 'dev-001', '--limit', '3']), cli(['cloud', 'results', '--store', `sqlite:${store}`, '--view'])]);
    const rows = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    expect(rows).toEqual(view!.rows);
    expect(rows.length).toBeGreaterThan(0);
    expect(Object.keys(rows[0]!)).toEqual(['device', 'window_start', 'window_end', 'avg', 'n', 'rev', 'seq', 'complete']);
    expect(rows.every((r) => typeof r.window_end === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(r.window_end))).toBe(true);
    // Open gaps are listed for this store (evicted drops, nobody asked): some rows cannot be complete.
    expect(rows.some((r) => r.complete === false)).toBe(true);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^DEVICE\s+WINDOW_START\s+WINDOW_END\s+AVG\s+N\s+REV\s+SEQ\s+COMPLETE$/);
    expect(lines).toHaveLength(4);
    expect(lines.slice(1).every((l) => l.startsWith('dev-001 '))).toBe(true);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--view needs --query NAME \[EDGE_USAGE\]/);
  });

  it('run --event-hubs --once reads the emulator over AMQP (the real consumer client): the same tables as --hub-data-dir', async () => {
    const amqpLog = await openTestLog(scenario.deliveries);
    await amqpLog.log.close();
    const hub = await IotHubEmulator.start({ dataDir: amqpLog.dir, amqpPort: 0 });
    try {
      const [fromFiles, overAmqp] = [join(work, 'files.db'), join(work, 'amqp.db')];
      const files = await cli(['cloud', 'run', '--hub-data-dir', amqpLog.dir, '--store', `sqlite:${fromFiles}`, '--once']);
      const amqp = await cli(['cloud', 'run', '--event-hubs', hub.eventHubsConnectionString()!, '--store', `sqlite:${overAmqp}`, '--once']);
      expect(amqp).toMatchObject({ code: 0, stderr: '' });
      expect(amqp.stdout).toMatch(new RegExp(`^events=${scenario.deliveries.length} `));
      // Resends aside (none asked here), the summary lines agree too.
      expect(amqp.stdout).toBe(files.stdout);
      const [a, b] = [new SqliteStore(fromFiles), new SqliteStore(overAmqp)];
      try {
        await Promise.all([a.migrate(), b.migrate()]);
        expect(await b.results()).toEqual(await a.results());
        expect(await b.readings()).toEqual(await a.readings());
        expect(await b.events()).toEqual(await a.events());
        // Gaps open at the reconciler's own clock; everything else about them must agree.
        const gaps = async (s: SqliteStore) => (await s.gaps()).map((g) => ({ ...g, openedAt: 0 }));
        expect(await gaps(b)).toEqual(await gaps(a));
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    } finally {
      await hub.stop();
      await rm(amqpLog.dir, { recursive: true, force: true });
    }
  });

  it('bad input ends in one clear line with its code and exit status, never a stack', async () => {
    const runs = await Promise.all([
      cli(['cloud', 'results', '--store', `sqlite:${store}`, '--from', 'yesterday-ish']),
      cli(['cloud', 'gaps', '--store', `sqlite:${join(work, 'missing.db')}`]),
      cli(['cloud', 'run', '--store', `sqlite:${store}`]),
      cli(['cloud', 'run', '--hub-data-dir', join(work, 'no-hub'), '--store', `sqlite:${store}`, '--once']),
      cli(['cloud', 'results', '--store', 'mysql://nope']),
    ]);
    expect(runs.map((r) => r.code)).toEqual([2, 1, 2, 1, 2]);
    expect(runs[0]!.stderr).toMatch(/^edge-agent: from must be an ISO 8601 time or epoch milliseconds, got "yesterday-ish" \[EDGE_USAGE\]\n$/);
    expect(runs[1]!.stderr).toMatch(/no reconciler store at .*missing\.db .*\[EDGE_DATA_DIR_UNUSABLE\]/);
    expect(runs[2]!.stderr).toMatch(/give exactly one input: --hub-data-dir DIR .* or --event-hubs/);
    expect(runs[3]!.stderr).toMatch(/no message log in .*no-hub.*\[EDGE_DATA_DIR_UNUSABLE\]/);
    expect(runs[4]!.stderr).toMatch(/unknown store "mysql:\/\/nope"/);
    for (const r of runs) noStack(r.stderr);
  });

  it('run serves the HTTP API until SIGTERM', async () => {
    // At info level the service logs `caught up` (JSON lines on stdout) once it has drained the log.
    const p = spawnCli(['cloud', 'run', '--hub-data-dir', log.dir, '--store', `sqlite:${join(work, 'served.db')}`, '--http-port', '0', '--poll-ms', '50'], { EDGE_LOG_LEVEL: 'info' });
    const caughtUp = untilOutput(p.stdout, /"msg":"caught up"/);
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => p.on('exit', (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      p.stderr.on('data', (b: Buffer) => {
        stderr += b.toString();
        const m = /HTTP API on (http:\/\/\S+)/.exec(stderr);
        if (m) resolve(m[1]!);
      });
      p.on('exit', () => reject(new Error(`exited early: ${stderr}`)));
    });
    const line = JSON.parse((await caughtUp).split('\n').find((l) => l.includes('"msg":"caught up"'))!) as { accepted: number };
    expect(line.accepted).toBeGreaterThan(0);
    const { devices } = (await (await fetch(`${url}/devices`)).json()) as { devices: Array<{ device: string }> };
    expect(devices.map((d) => d.device)).toEqual(['dev-000', 'dev-001', 'dev-002']);
    p.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/stopped; reconciledRows=\d+ openGaps=\d+ lostRecords=0/);
  });

  it('run --hub-data-dir asks the running emulator for resends through its service API', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'reconciler-cli-hub-'));
    const hub = await IotHubEmulator.start({ dataDir: dir, servicePort: 0 });
    let client: Client | undefined;
    try {
      const agent: AgentState = { script: new AgentScript('cli-dev', 'boot-1'), evicted: new Set([7, 8]) };
      for (let i = 0; i < 12; i++) agent.script.reading({ t: 1000 + i, at: 1000 + i, src: 's', pt: 'p', v: i, q: 'good' });
      client = await connectSdkDevice(hub, 'cli-dev');
      const calls: Array<{ fromSeq: number; toSeq: number }> = [];
      answerResend(client, agent, calls);
      await untilSubscribed(hub, 'cli-dev', 'methods');
      // Seqs 4–9 never sent: 4–6 the device still holds, 7–8 it evicted, 9 it holds.
      const records = agent.script.sent.map((s) => s.record);
      await sendWire(client, packMessage('cli-dev', 'boot-1', records.slice(0, 3)));
      await sendWire(client, packMessage('cli-dev', 'boot-1', records.slice(9)));
      const db = `sqlite:${join(work, 'resend.db')}`;
      const first = await cli(['cloud', 'run', '--hub-data-dir', dir, '--store', db, '--once', '--resend-grace-ms', '0']);
      expect(first.code, first.stderr).toBe(0);
      // 4–6 and 9 stay open until the resent records are read; 7–8 are closed as lost.
      expect(first.stdout).toMatch(/resendRequests=1 .*openGaps=2 lostRecords=2/);
      expect(calls).toEqual([{ fromSeq: 4, toSeq: 9 }]);
      const second = await cli(['cloud', 'run', '--hub-data-dir', dir, '--store', db, '--once']);
      expect(second.stdout).toMatch(/accepted=4 .*openGaps=0 lostRecords=2/);
      const gaps = JSON.parse((await cli(['cloud', 'gaps', '--store', db, '--json'])).stdout) as Array<Record<string, unknown>>;
      expect(gaps).toMatchObject([{ device: 'cli-dev', from: 7, to: 8, size: 2, state: 'lost' }]);
    } finally {
      await client?.close().catch(() => undefined);
      await hub.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  describe('with a PostgreSQL store', () => {
    const pg = postgresStores();
    afterAll(() => pg.cleanup());

    it('run --once and results --json work the same', async () => {
      const s = await pg.create();
      const url = pg.locationOf(s);
      await s.close();
      const run = await cli(['cloud', 'run', '--hub-data-dir', log.dir, '--store', url, '--once']);
      expect(run.code, run.stderr).toBe(0);
      const results = await cli(['cloud', 'results', '--store', url, '--json', '--device', 'dev-000']);
      const rows = JSON.parse(results.stdout) as Array<{ device: string }>;
      expect(rows.length).toBe(scenario.truth.results.filter((r) => r.device === 'dev-000').length);
    });
  });
});
