import { readFileSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBacklogFile } from '../../../agent/core/backlog-file.js';
import type { FilesPathStats } from '../../../agent/core/agent-stats.js';
import type { TrafficCell, TrafficFigures, TrafficTable } from '../../../agent/core/traffic-meter.js';
import { classOf, decodeWireMessage, RECORD_CLASSES, type RecordClass, type ResultRecord } from '../../../agent/core/wire.js';
import { runCli } from '../../support/cli.js';
import { untilStatus } from '../../support/status.js';
import { startCliAgent, type RunningCliAgent } from '../diagnostics/running-agent.js';

const DEVICE = 'files-traffic-gw';
const WINDOW = (what: string) => `SELECT point, ${what} FROM readings TIMESTAMP BY appTime GROUP BY point, TumblingWindow(second, 1)`;

/** What the emulator's file store holds of the device's notified backlog files, per class as the agent meters them. */
function hubFiles(a: RunningCliAgent): { files: number; records: number; bytes: number; byClass: Partial<Record<RecordClass, TrafficCell>> } {
  const byClass: Partial<Record<RecordClass, TrafficCell>> = {};
  let files = 0;
  let records = 0;
  let bytes = 0;
  for (const u of a.hub.fileUploads()) {
    if (u.notification?.isSuccess !== true || !u.blobName.startsWith(`${DEVICE}/backlog/`)) continue;
    const gz = readFileSync(u.path!);
    expect(statSync(u.path!).size).toBe(u.bytes);
    const per = new Map<RecordClass, number>();
    for (const line of readBacklogFile(gz)) {
      for (const r of decodeWireMessage(Buffer.from(line)).records) {
        const cls = classOf(r.kind, (r as ResultRecord).cls);
        per.set(cls, (per.get(cls) ?? 0) + 1);
      }
    }
    // The file itself (one send, its gzip bytes, 2 billed messages) goes to the class most of its records have, the higher on a tie.
    const owner = RECORD_CLASSES.filter((c) => per.has(c)).reduce((x, y) => (per.get(y)! > per.get(x)! ? y : x));
    for (const [cls, n] of per) {
      const cell = (byClass[cls] ??= { sends: 0, records: 0, bytes: 0, units: 0 });
      cell.records += n;
      if (cls === owner) {
        cell.sends++;
        cell.bytes += gz.length;
        cell.units += 2;
      }
      records += n;
    }
    files++;
    bytes += gz.length;
  }
  return { files, records, bytes, byClass };
}

function sum(t: TrafficTable['files']): TrafficCell {
  return Object.values(t ?? {}).reduce((s, c) => ({ sends: s.sends + c.sends, records: s.records + c.records, bytes: s.bytes + c.bytes, units: s.units + c.units }), { sends: 0, records: 0, bytes: 0, units: 0 });
}

/**
 * The files path in the figures a user reads: a real `edge-agent run` with `forwarding.backlogFiles`
 * comes back from an outage with a backlog over the threshold, drains it as files through the
 * emulator's file upload, and `buffer`/`status` (text and --json) and /metrics show files, records,
 * gzip bytes and billed units per class equal to what the emulator's file store holds.
 */
describe('backlog files in the traffic figures of a running agent (edge-agent run + local IoT Hub file upload)', () => {
  let a: RunningCliAgent;
  let expected: ReturnType<typeof hubFiles>;
  const diag = (args: string[]) => runCli([...args, '--socket', a.socketPath]);

  beforeAll(async () => {
    a = await startCliAgent({
      deviceId: DEVICE,
      intervalMs: 10,
      points: 4,
      // The hub refuses the agent from its start: everything waits in the outbox.
      beforeStart: async (_dir, hub) => hub.faults.refuseConnections({ mode: 'server-unavailable' }),
      config: {
        forwarding: { lingerMs: 20, retryInitialMs: 50, retryMaxMs: 200, compress: true, backlogFiles: { enabled: true, afterRecords: 300, fileRecords: 400 } },
        // Two result-kind outputs: one query's results take the alarm class, so a results file holds two classes.
        analytics: {
          queries: [
            { name: 'trip', query: WINDOW('MAX(value) AS peak'), priority: 'alarm' },
            { name: 'mean', query: WINDOW('AVG(value) AS avg') },
          ],
          tolerances: { lateArrivalMs: 0 },
        },
      },
    });
    await untilStatus(a.socketPath, (s) => s.buffer.unsentRecords >= 2000, 60_000, '2,000 records waiting');
    a.hub.faults.acceptConnections();
    // Drained: nothing reserved any more, every notified file counted by the agent, live messages acknowledged.
    await untilStatus(
      a.socketPath,
      (s) => {
        const f = s.paths?.files;
        return f !== undefined && f.files >= 2 && f.reservedBelow === 0 && f.files === hubFiles(a).files && (s.forwarder.traffic.sinceStart.messages?.reading?.sends ?? 0) > 0;
      },
      60_000,
      'the backlog drained as files while live messages flow',
    );
    expected = hubFiles(a);
  }, 150_000);
  afterAll(async () => {
    await a?.cleanup();
  });

  it('buffer --json and status --json: the files path per class equals the emulator file store, since start and today', { timeout: 60_000 }, async () => {
    expect(expected.files).toBeGreaterThanOrEqual(2);
    // The outage lasted seconds: window results waited too, and went as files beside the readings.
    expect(Object.keys(expected.byClass).sort()).toEqual(['alarm', 'reading', 'result']);
    for (const cmd of ['buffer', 'status']) {
      const out = JSON.parse((await diag([cmd, '--json'])).stdout) as { forwarder: { traffic: TrafficFigures }; paths: { files: FilesPathStats } };
      expect(hubFiles(a).files, 'no file came after the drain').toBe(expected.files);
      const { traffic } = out.forwarder;
      expect(traffic.sinceStart.files, cmd).toEqual(expected.byClass);
      expect(sum(traffic.sinceStart.files)).toEqual({ sends: expected.files, records: expected.records, bytes: expected.bytes, units: 2 * expected.files });
      // Per UTC day: the days add up to since start (the run may straddle midnight).
      const days = traffic.days.map((d) => sum(d.traffic.files));
      expect(days.reduce((s, c) => ({ sends: s.sends + c.sends, records: s.records + c.records, bytes: s.bytes + c.bytes, units: s.units + c.units }))).toEqual(sum(traffic.sinceStart.files));
      expect(traffic.days.at(-1)!.day).toBe(new Date().toISOString().slice(0, 10));
      // The drainer's own totals tell the same.
      expect(out.paths.files).toMatchObject({ enabled: true, files: expected.files, records: expected.records, bytesUploaded: expected.bytes, unitsBilled: 2 * expected.files, failures: 0 });
      // Live data went as messages meanwhile, in the same table.
      expect(traffic.sinceStart.messages?.reading?.units).toBeGreaterThan(0);
    }
  });

  it('buffer and status text: a files row with each class, since start and today', { timeout: 60_000 }, async () => {
    const cell = (c: RecordClass) => {
      const x = expected.byClass[c]!;
      return `${c} ${x.units} units / \\S+ (?:\\S+ )?\\(${x.sends} files, ${x.records} records\\)`;
    };
    const row = new RegExp(`^files: ${cell('alarm')}, ${cell('result')}, ${cell('reading')}$`);
    // A line's paths in the order each was first used: the first file may beat the first message.
    const paths = (text: string, label: RegExp) => {
      const line = text.split('\n').find((l) => label.test(l));
      expect(line, text).toBeDefined();
      return line!.replace(label, '').split('; ');
    };
    const b = (await diag(['buffer'])).stdout;
    const since = paths(b, /^billed since start\s+/);
    expect(since.find((p) => p.startsWith('files: '))).toMatch(row);
    expect(since.find((p) => p.startsWith('messages: '))).toMatch(/reading \d+ units/);
    expect(paths(b, /^billed \d{4}-\d\d-\d\d \(UTC\)\s+/).some((p) => p.startsWith('files: '))).toBe(true);
    expect(b).toMatch(new RegExp(`^sent as files\\s+${expected.files} files, ${expected.records} records, `, 'm'));
    const s = (await diag(['status'])).stdout;
    expect(paths(s, /^ {2}billed since start\s+/).find((p) => p.startsWith('files: '))).toMatch(row);
  });

  it('Prometheus: units, bytes, files and records of the files path per class', { timeout: 30_000 }, async () => {
    const text = await (await fetch(`http://127.0.0.1:${a.metricsPort!}/metrics`)).text();
    const value = (name: string, cls: RecordClass) => Number(new RegExp(`^edge_agent_${name}\\{path="files",class="${cls}"\\} (\\d+)$`, 'm').exec(text)?.[1]);
    for (const cls of ['alarm', 'result', 'reading'] as const) {
      const x = expected.byClass[cls]!;
      expect([value('hub_billed_units_total', cls), value('hub_sent_bytes_total', cls), value('hub_sends_total', cls), value('hub_sent_records_total', cls)], cls).toEqual([x.units, x.bytes, x.sends, x.records]);
    }
    expect(text).toMatch(/^# TYPE edge_agent_hub_sends_total counter$/m);
  });
});
