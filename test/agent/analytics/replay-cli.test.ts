import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileLimited } from '../../support/child.js';

const MAIN = path.resolve('agent/cli/main.ts');

async function replay(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileLimited(process.execPath, ['--import', 'tsx', MAIN, 'replay', ...args], { timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout: string; stderr: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('edge-agent replay', () => {
  let dir: string;
  const file = (name: string, text: string) => {
    const p = path.join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'edge-replay-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints one JSON line per result row, times as ISO 8601 UTC with milliseconds', async () => {
    const query = file('q.sql', 'SELECT sensor, AVG(v) AS avg, System.Timestamp() AS windowEnd\nFROM input TIMESTAMP BY ts\nGROUP BY sensor, TumblingWindow(second, 10)\n');
    const events = file(
      'e.jsonl',
      [
        { ts: '2026-01-01T00:00:01Z', sensor: 'a', v: 1 },
        { ts: '2026-01-01T00:00:02Z', sensor: 'b', v: 10 },
        { ts: '2026-01-01T00:00:09Z', sensor: 'a', v: 3 },
        { ts: '2026-01-01T00:00:11Z', sensor: 'a', v: 5 },
        // Arrives 20 s late: beyond the default 5 s late-arrival tolerance, so adjusted to 00:00:15.
        { ts: '2026-01-01T00:00:01Z', EventEnqueuedUtcTime: '2026-01-01T00:00:20Z', sensor: 'b', v: 7 },
      ]
        .map((e) => JSON.stringify(e))
        .join('\n') + '\n\n',
    );
    const { code, stdout, stderr } = await replay(['--query', query, '--events', events]);
    // The closing counters are the only stderr output (issue #13: replay used to say nothing of them).
    expect(stderr).toBe('edge-agent replay: 5 events, 4 rows; late 1, out of order 0, early 0, adjusted 1, dropped 0, conversion errors 0\n');
    expect(code).toBe(0);
    expect(stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown)).toEqual([
      { sensor: 'a', avg: 2, windowEnd: '2026-01-01T00:00:10.000Z' },
      { sensor: 'b', avg: 10, windowEnd: '2026-01-01T00:00:10.000Z' },
      { sensor: 'a', avg: 5, windowEnd: '2026-01-01T00:00:20.000Z' },
      { sensor: 'b', avg: 7, windowEnd: '2026-01-01T00:00:20.000Z' },
    ]);
  });

  it('takes tolerances and policy flags; several outputs carry "output", revisions "rev"', async () => {
    const query = file(
      'multi.sql',
      'SELECT COUNT(*) AS n, System.Timestamp() AS t INTO counts FROM input TIMESTAMP BY ts GROUP BY TumblingWindow(second, 10);\nSELECT MAX(v) AS top INTO tops FROM input TIMESTAMP BY ts GROUP BY TumblingWindow(second, 10)',
    );
    const events = file(
      'late.jsonl',
      [
        { ts: '2026-01-01T00:00:01Z', v: 1 },
        { ts: '2026-01-01T00:00:15Z', v: 2 },
        { ts: '2026-01-01T00:00:02Z', EventEnqueuedUtcTime: '2026-01-01T00:00:16Z', v: 9 },
      ]
        .map((e) => JSON.stringify(e))
        .join('\n'),
    );
    const { code, stdout } = await replay(['--query', query, '--events', events, '--late-arrival', '5s', '--out-of-order', '0', '--policy', 'revise', '--allowed-lateness', '1h']);
    expect(code).toBe(0);
    expect(stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown)).toEqual([
      { output: 'counts', n: 1, t: '2026-01-01T00:00:10.000Z' },
      { output: 'tops', top: 1 },
      { output: 'counts', n: 2, t: '2026-01-01T00:00:10.000Z', rev: 1 },
      { output: 'tops', top: 9, rev: 1 },
      { output: 'counts', n: 1, t: '2026-01-01T00:00:20.000Z' },
      { output: 'tops', top: 2 },
    ]);
  });

  it('exits 2 on a syntax error, printing line:column, the line and a caret', async () => {
    const query = file('bad.sql', 'SELECT sensor, AVG(v) AS avg\nFROM input TIMESTAMP BY ts\nGROUP BY sensor, TumblingWindow(second 10)\n');
    const events = file('one.jsonl', '{"ts":"2026-01-01T00:00:01Z"}\n');
    const { code, stdout, stderr } = await replay(['--query', query, '--events', events]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    const lines = stderr.split('\n');
    expect(lines[0]).toBe(`edge-agent: ${query}:3:40: expected ',' but found '10'`);
    expect(lines[1]).toBe('  GROUP BY sensor, TumblingWindow(second 10)');
    expect(lines[2]).toBe('  ' + ' '.repeat(39) + '^');
    expect(stderr).toContain('EDGE_QUERY_SYNTAX');
  });

  it('names an unsupported construct as such', async () => {
    const query = file('join.sql', 'SELECT i.a FROM input i JOIN other o ON DATEDIFF(s, i, o) BETWEEN 0 AND 1 JOIN third t ON DATEDIFF(s, i, t) BETWEEN 0 AND 1');
    const events = file('two.jsonl', '{"a":1}\n');
    const { code, stderr } = await replay(['--query', query, '--events', events]);
    expect(code).not.toBe(0);
    expect(stderr).toContain('unsupported: a JOIN of more than two inputs is not supported');
    expect(stderr).toContain('EDGE_QUERY_UNSUPPORTED');
  });

  it('--json prints the closing counters as one JSON line on stderr', async () => {
    const query = file('counted.sql', 'SELECT CAST(v AS bigint) AS n FROM input TIMESTAMP BY ts');
    const events = file(
      'counted.jsonl',
      [
        { ts: '2026-01-01T00:00:10Z', v: '1' },
        { ts: '2026-01-01T00:00:01Z', EventEnqueuedUtcTime: '2026-01-01T00:00:20Z', v: '2' },
        { ts: '2026-01-01T00:09:00Z', EventEnqueuedUtcTime: '2026-01-01T00:00:21Z', v: '3' },
        { ts: 'sensor 3', EventEnqueuedUtcTime: '2026-01-01T00:00:22Z', v: '4' },
        { ts: '2026-01-01T00:00:23Z', v: 'abc' },
      ]
        .map((e) => JSON.stringify(e))
        .join('\n'),
    );
    const { code, stdout, stderr } = await replay(['--query', query, '--events', events, '--json']);
    expect(code).toBe(0);
    expect(stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown)).toEqual([{ n: 1 }, { n: 2 }]);
    const lines = stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ events: 5, rows: 2, inputEvents: 5, lateInput: 1, earlyInput: 1, adjusted: 1, dropped: 2, conversionErrors: 1 });
  });

  it('reads a query file that starts with a UTF-8 byte order mark', async () => {
    const query = file('bom.sql', '\uFEFFSELECT v FROM input TIMESTAMP BY ts');
    const events = file('bom.jsonl', '\uFEFF{"ts":"2026-01-01T00:00:01Z","v":7}\n');
    const { code, stdout } = await replay(['--query', query, '--events', events]);
    expect(code).toBe(0);
    expect(stdout).toBe('{"v":7}\n');
  });

  it.each([
    ['SELECT udf.toCelsius(v) AS c FROM input', 'user-defined function udf.toCelsius()'],
    ['CREATE TABLE input (v bigint);\nSELECT v FROM input', 'CREATE TABLE (input schema declarations) is not supported'],
  ])('names %j as unsupported, not as a syntax error', async (text, what) => {
    const query = file('unsupported.sql', text);
    const events = file('u.jsonl', '{"v":1}\n');
    const { code, stderr } = await replay(['--query', query, '--events', events]);
    expect(code).not.toBe(0);
    expect(stderr).toContain(`unsupported: ${what}`);
    expect(stderr).toContain('EDGE_QUERY_UNSUPPORTED');
  });

  it('a directory as --events is a usage error with an EDGE_ code', async () => {
    const query = file('dir.sql', 'SELECT v FROM input TIMESTAMP BY ts');
    const { code, stderr } = await replay(['--query', query, '--events', dir]);
    expect(code).toBe(2);
    expect(stderr).toContain('is a directory');
    expect(stderr).toContain('[EDGE_USAGE]');
  });

  it('--max-state raises the state bound that the error names', async () => {
    const query = file('groups.sql', 'SELECT k, COUNT(*) AS n FROM input TIMESTAMP BY ts GROUP BY k, TumblingWindow(minute, 1)');
    const events = file('groups.jsonl', ['a', 'b', 'c', 'd'].map((k, i) => JSON.stringify({ ts: `2026-01-01T00:00:0${i + 1}Z`, k })).join('\n'));
    const tight = await replay(['--query', query, '--events', events, '--max-state', '3']);
    expect(tight.code).toBe(1);
    expect(tight.stderr).toContain('needs more than 3 state entries');
    expect(tight.stderr).toContain('--max-state, now 3');
    expect(tight.stderr).toContain('[EDGE_QUERY_STATE_LIMIT]');
    const roomy = await replay(['--query', query, '--events', events, '--max-state', '4']);
    expect(roomy.code).toBe(0);
    expect(roomy.stdout.trimEnd().split('\n')).toHaveLength(4);
  });

  it('refuses a SELECT * row whose event field would be overwritten by the output envelope', async () => {
    const query = file('star.sql', 'SELECT * INTO a FROM input TIMESTAMP BY ts; SELECT ts INTO b FROM input TIMESTAMP BY ts');
    const events = file('star.jsonl', '{"ts":"2026-01-01T00:00:01Z","output":"pump 3"}\n');
    const { code, stderr } = await replay(['--query', query, '--events', events]);
    expect(code).toBe(1);
    expect(stderr).toContain("a field named 'output'");
    expect(stderr).toContain('[EDGE_QUERY_RESERVED_NAME]');
  });

  it('--reference name=file gives a JOIN its reference data', async () => {
    const query = file('ref.sql', "SELECT i.point, t.[limit] AS lim FROM input i TIMESTAMP BY ts JOIN thresholds t ON i.point = t.point WHERE i.v > CAST(t.[limit] AS float)");
    const table = file('thresholds.csv', 'point,limit\ntemp,30\npressure,5\n');
    const events = file('ref.jsonl', [{ ts: '2026-01-01T00:00:01Z', point: 'temp', v: 31 }, { ts: '2026-01-01T00:00:02Z', point: 'pressure', v: 4 }, { ts: '2026-01-01T00:00:03Z', point: 'flow', v: 99 }].map((e) => JSON.stringify(e)).join('\n'));
    const { code, stdout } = await replay(['--query', query, '--events', events, '--reference', `thresholds=${table}`]);
    expect(code).toBe(0);
    expect(stdout).toBe('{"point":"temp","lim":"30"}\n');
    const bad = await replay(['--query', query, '--events', events, '--reference', 'thresholds']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--reference takes name=file');
  });

  it('names the line number of a bad events line', async () => {
    const query = file('ok.sql', 'SELECT v FROM input TIMESTAMP BY ts');
    const events = file('broken.jsonl', '{"ts":"2026-01-01T00:00:01Z","v":1}\n{"ts":"2026-01-01T00:00:02Z","v":2}\n{"ts": oops}\n');
    const { code, stdout, stderr } = await replay(['--query', query, '--events', events]);
    expect(code).toBe(2);
    expect(stderr).toContain('events line 3: not valid JSON');
    expect(stdout.trimEnd().split('\n')).toHaveLength(2);
  });
});
