import { describe, expect, it } from 'vitest';
import { compileQuery, QueryError } from '../../../agent/analytics/index.js';
import { parseQuery } from '../../../agent/analytics/parser.js';

function error(text: string): QueryError {
  try {
    compileQuery(text, 'q.sql');
  } catch (err) {
    if (err instanceof QueryError) return err;
    throw err;
  }
  throw new Error('expected a QueryError');
}

describe('ASA query parser', () => {
  it('parses SELECT with aliases, INTO, FROM alias, TIMESTAMP BY … OVER, WHERE, GROUP BY, HAVING', () => {
    const ast = parseQuery(
      `SELECT i.sensor AS s, AVG(i.reading.temp) avg, COUNT(DISTINCT i.unit) AS units
       INTO alerts FROM telemetry i TIMESTAMP BY i.ts OVER i.deviceId
       WHERE i.quality = 'good' AND NOT i.value IS NULL
       GROUP BY i.sensor, TumblingWindow(minute, 5)
       HAVING AVG(i.reading.temp) > 10.5`,
      'q',
    );
    const s = ast.selects[0]!;
    expect(s.items.map((x) => x.alias)).toEqual(['s', 'avg', 'units']);
    expect(s.into).toBe('alerts');
    expect(s.from).toMatchObject({ name: 'telemetry', alias: 'i' });
    expect(s.timestampBy?.over).toHaveLength(1);
    expect(s.groupBy?.window).toMatchObject({ kind: 'tumbling', size: { unit: 'minute', size: 5 }, offset: null });
    expect(s.having).not.toBeNull();
  });

  it.each([
    ['TumblingWindow(second, 10)', { kind: 'tumbling', size: 10_000, hop: 10_000, offset: 0 }],
    ['Tumbling(ss, 10, 2)', { kind: 'tumbling', size: 10_000, hop: 10_000, offset: 2_000 }],
    ['TumblingWindow(Duration(hour, 1), Offset(minute, 15))', { kind: 'tumbling', size: 3_600_000, hop: 3_600_000, offset: 900_000 }],
    ['HoppingWindow(mi, 10, 5)', { kind: 'hopping', size: 600_000, hop: 300_000, offset: 0 }],
    ['HOPPING(Duration(d, 1), Hop(hh, 6), Offset(n, 30))', { kind: 'hopping', size: 86_400_000, hop: 21_600_000, offset: 1_800_000 }],
    ['HoppingWindow(ms, 100, 50, 10)', { kind: 'hopping', size: 100, hop: 50, offset: 10 }],
    ['HoppingWindow(Duration(hour, 1), Hop(minute, 5), Offset(millisecond, -1))', { kind: 'hopping', size: 3_600_000, hop: 300_000, offset: 299_999 }],
    ['SlidingWindow(s, 5)', { kind: 'sliding', size: 5_000 }],
    ['Sliding(Duration(mcs, 5000))', { kind: 'sliding', size: 5 }],
    ['SessionWindow(minute, 5, 10)', { kind: 'session', timeout: 300_000, maxDuration: 600_000 }],
    ['Session(Timeout(second, 30), MaxDuration(hour, 1))', { kind: 'session', timeout: 30_000, maxDuration: 3_600_000 }],
    ['System.Timestamp()', { kind: 'snapshot' }],
    ['SYSTEM.TIMESTAMP', { kind: 'snapshot' }],
  ])('plans GROUP BY %s', (window, expected) => {
    const plan = compileQuery(`SELECT COUNT(*) AS n FROM input TIMESTAMP BY ts GROUP BY ${window}`, 'q');
    expect(plan.statements[0]!.grouped!.window).toMatchObject(expected);
  });

  it.each([
    ['day', 86_400_000], ['dd', 86_400_000], ['d', 86_400_000], ['hour', 3_600_000], ['hh', 3_600_000],
    ['minute', 60_000], ['mi', 60_000], ['n', 60_000], ['second', 1000], ['ss', 1000], ['s', 1000],
    ['millisecond', 1], ['ms', 1], ['microsecond', 0.001], ['mcs', 0.001],
  ])('knows the window unit %s', (unit, ms) => {
    const size = unit.startsWith('m') && ms < 1 ? 1000 : 1;
    const plan = compileQuery(`SELECT COUNT(*) AS n FROM input GROUP BY TumblingWindow(${unit}, ${size})`, 'q');
    expect(plan.statements[0]!.grouped!.window).toMatchObject({ size: ms * size });
  });

  it('parses every aggregate and scalar form the issue names', () => {
    const plan = compileQuery(
      `SELECT COUNT(*) AS a, COUNT(x) AS b, COUNT(DISTINCT x) AS c, SUM(x) AS d, AVG(x) AS e, MIN(x) AS f, MAX(x) AS g,
              STDEV(x) AS h, STDEVP(x) AS i, VAR(x) AS j, VARP(x) AS k, TopOne() OVER (ORDER BY x DESC, y ASC) AS top,
              (MAX(x) - MIN(x)) * 2 / 1 % 7 AS span,
              CASE WHEN AVG(x) >= 1 THEN 'hi' WHEN AVG(x) IS NULL THEN NULL ELSE 'lo' END AS level,
              CAST(SUM(x) AS nvarchar(max)) AS text, DATEADD(minute, -5, System.Timestamp()) AS start,
              DATEDIFF(second, DATEADD(ss, -1, System.Timestamp()), System.Timestamp()) AS one, DATEPART(hour, System.Timestamp()) AS hr
       FROM input TIMESTAMP BY ts
       WHERE a.b.c <> 3 OR NOT (x BETWEEN 1 AND 2) AND y IN ('p', 'q') AND z IS NOT NULL AND -x < +4
       GROUP BY TumblingWindow(second, 1)`,
      'q',
    );
    const g = plan.statements[0]!.grouped!;
    expect(g.aggregates.map((a) => a.name)).toEqual(['COUNT', 'COUNT', 'COUNT', 'SUM', 'AVG', 'MIN', 'MAX', 'STDEV', 'STDEVP', 'VAR', 'VARP', 'TOPONE']);
    expect(plan.statements[0]!.columns.map((c) => c.name)).toContain('level');
  });

  it('plans WITH steps and several outputs', () => {
    const plan = compileQuery(
      `WITH avgs AS (SELECT s, AVG(v) AS a FROM input TIMESTAMP BY ts GROUP BY s, TumblingWindow(s, 10)),
            hot AS (SELECT s, a FROM avgs WHERE a > 50)
       SELECT * INTO hotOut FROM hot;
       SELECT MAX(a) AS m INTO maxOut FROM avgs GROUP BY TumblingWindow(s, 10)`,
      'q',
    );
    expect(plan.statements.map((s) => [s.name, s.isStep, s.fromStep])).toEqual([
      ['avgs', true, false],
      ['hot', true, true],
      ['hotOut', false, true],
      ['maxOut', false, true],
    ]);
    expect(plan.outputs).toEqual(['hotOut', 'maxOut']);
  });

  it('ignores -- and /* */ comments and accepts [bracketed] names', () => {
    const plan = compileQuery(`-- a comment\nSELECT [my field] AS [out put] /* inline\n comment */ FROM input`, 'q');
    expect(plan.statements[0]!.columns[0]!.name).toBe('out put');
  });

  it.each([
    ['SELECT a FORM input', 1, 10, "expected FROM but found 'FORM'"],
    ['SELECT a,\n  b +\nFROM input', 3, 1, 'expected an expression but found FROM'],
    ["SELECT 'abc FROM input", 1, 8, 'unterminated string literal'],
    ['SELECT a FROM input\nGROUP BY TumblingWindow(fortnight, 1)', 2, 25, "unknown time unit 'fortnight'"],
    ['SELECT a FROM input GROUP BY a, TumblingWindow(s, 1), HoppingWindow(s, 2, 1)', 1, 55, 'only one window'],
    ['SELECT a, COUNT(*) AS n FROM input GROUP BY TumblingWindow(s, 1)', 1, 8, "column 'a' must appear in GROUP BY"],
    ['SELECT a FROM input WHERE a = 1 WHERE b = 2', 1, 33, 'WHERE given twice'],
    ['SELECT a FROM input GROUP BY TumblingWindow(s, 10, 10)', 1, 52, 'offset must be smaller'],
    ['SELECT a FROM input #', 1, 21, "unexpected character '#'"],
    ['SELECT COUNT(*) AS n FROM input WHERE COUNT(*) > 1 GROUP BY TumblingWindow(s, 1)', 1, 39, 'filter windows with HAVING'],
  ])('reports a syntax error at line:column with the line and a caret: %s', (text, line, column, reason) => {
    const err = error(text);
    expect(err.code).toBe('EDGE_QUERY_SYNTAX');
    expect([err.line, err.column]).toEqual([line, column]);
    const [head, shown, caret] = err.message.split('\n');
    expect(head).toContain(`q.sql:${line}:${column}: `);
    expect(head).toContain(reason);
    expect(shown).toBe('  ' + text.split('\n')[line - 1]);
    expect(caret).toBe('  ' + ' '.repeat(column - 1) + '^');
  });

  it.each([
    ['SELECT a FROM input i JOIN other o ON DATEDIFF(s, i, o) BETWEEN 0 AND 1 JOIN third t ON DATEDIFF(s, i, t) BETWEEN 0 AND 1', 'a JOIN of more than two inputs'],
    ['SELECT * FROM input UNION SELECT * FROM input', 'SELECT * in a UNION'],
    ['SELECT a FROM input PARTITION BY PartitionId', 'PARTITION BY'],
    ['SELECT System.Window().Start FROM input GROUP BY Windows(TumblingWindow(s, 1))', 'System.Window().Start'],
    ['SELECT COUNT(*) FROM input GROUP BY a', 'GROUP BY without a window'],
    ['SELECT COUNT(*) FROM input', 'aggregate without GROUP BY'],
    ['SELECT COUNT(*) FROM input GROUP BY TumblingWindow(month, 1)', 'month as a window unit'],
    ['SELECT a FROM input CROSS APPLY Unnest(arr) AS e', 'CROSS APPLY Unnest()'],
    ['SELECT COUNT(a) OVER (LIMIT DURATION(s, 1)) FROM input', 'COUNT() OVER (…) is not supported'],
    ['SELECT Frobnicate(a) FROM input', 'function FROBNICATE()'],
    ['SELECT SUM(DISTINCT a) FROM input GROUP BY TumblingWindow(s, 1)', 'SUM(DISTINCT'],
  ])('names unsupported constructs as such: %s', (text, what) => {
    const err = error(text);
    expect(err.code).toBe('EDGE_QUERY_UNSUPPORTED');
    expect(err.message).toContain('unsupported: ');
    expect(err.message).toContain(what);
  });
});
