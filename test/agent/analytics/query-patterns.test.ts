import { describe, expect, it } from 'vitest';
import type { AnalyticsEvent } from '../../../agent/analytics/index.js';
import { at, iso, plain, run } from './helpers.js';

/**
 * Further complete examples of ASA's "common query patterns" page that use only what this
 * engine supports (LAG/ISFIRST/LAST, JOIN, LIKE are in their own files). Inputs as the page's
 * tables (arrival in table order, at the event's time unless the case says otherwise); expected
 * rows written from the documented meaning. Where ASA's default tolerances matter (out-of-order
 * 0 s, adjust), the note says so.
 */
const ev = (t: string, fields: Record<string, unknown>, arrival?: string): AnalyticsEvent => ({ Time: iso(t), ...fields, arrivalTime: at(arrival ?? t) });

describe('common query patterns', () => {
  it('send data to several outputs: an archive of everything, and an alert when a make passes 3 times in 10 s (HAVING [Count] >= 3)', () => {
    const { rows } = run(
      `SELECT * INTO ArchiveOutput FROM Input TIMESTAMP BY Time;
       SELECT Make, System.Timestamp() AS Time, COUNT(*) AS [Count] INTO AlertOutput FROM Input TIMESTAMP BY Time
       GROUP BY Make, TumblingWindow(second, 10) HAVING [Count] >= 3`,
      [
        ev('00:00:01', { Make: 'Make1' }),
        ev('00:00:02', { Make: 'Make1' }),
        // Listed after 00:00:02: out of order under ASA's default tolerance (0 s), adjusted to 00:00:02 — same window.
        ev('00:00:01', { Make: 'Make2' }, '00:00:02'),
        ev('00:00:02', { Make: 'Make2' }),
        ev('00:00:03', { Make: 'Make2' }),
      ],
    );
    expect(rows.filter((r) => r.output === 'ArchiveOutput').map((r) => plain(r))).toEqual([
      { Time: iso('00:00:01'), Make: 'Make1' },
      { Time: iso('00:00:02'), Make: 'Make1' },
      { Time: iso('00:00:01'), Make: 'Make2' },
      { Time: iso('00:00:02'), Make: 'Make2' },
      { Time: iso('00:00:03'), Make: 'Make2' },
    ]);
    expect(rows.filter((r) => r.output === 'AlertOutput').map((r) => plain(r))).toEqual([{ Make: 'Make2', Time: iso('00:00:10'), Count: 3 }]);
  });

  it('data type conversions: SUM(CAST(Weight AS BIGINT)) of weights sent as text', () => {
    const { rows } = run('SELECT Make, SUM(CAST(Weight AS BIGINT)) AS Weight FROM Input TIMESTAMP BY Time GROUP BY Make, TumblingWindow(second, 10)', [
      ev('00:00:01', { Make: 'Make1', Weight: '1000' }),
      ev('00:00:02', { Make: 'Make1', Weight: '2000' }),
    ]);
    expect(rows.map((r) => plain(r))).toEqual([{ Make: 'Make1', Weight: 3000 }]);
  });

  it('specify logic for different cases: CASE on a count per make', () => {
    const { rows } = run(
      `SELECT Make, CASE WHEN COUNT(*) = 1 THEN CONCAT('1 ', Make) ELSE CONCAT(CAST(COUNT(*) AS NVARCHAR(MAX)), ' ', Make, 's') END AS CarsPassed, System.Timestamp() AS Time
       FROM Input TIMESTAMP BY Time GROUP BY Make, TumblingWindow(second, 10)`,
      [ev('00:00:01', { Make: 'Make1' }), ev('00:00:02', { Make: 'Make2' }), ev('00:00:03', { Make: 'Make2' })],
    );
    expect(rows.map((r) => plain(r))).toEqual([
      { Make: 'Make1', CarsPassed: '1 Make1', Time: iso('00:00:10') },
      { Make: 'Make2', CarsPassed: '2 Make2s', Time: iso('00:00:10') },
    ]);
  });

  it('count unique values: COUNT(DISTINCT Make) per 2-second window', () => {
    const { rows } = run('SELECT COUNT(DISTINCT Make) AS Count_make, System.Timestamp() AS Time FROM Input TIMESTAMP BY Time GROUP BY TumblingWindow(second, 2)', [
      ev('00:00:01', { Make: 'Make1' }),
      ev('00:00:01.500', { Make: 'Make1' }),
      ev('00:00:02', { Make: 'Make2' }),
      ev('00:00:03', { Make: 'Make2' }),
      ev('00:00:03.500', { Make: 'Make2' }),
    ]);
    expect(rows.map((r) => plain(r))).toEqual([
      { Count_make: 2, Time: iso('00:00:02') },
      { Count_make: 1, Time: iso('00:00:04') },
    ]);
  });

  it('fill missing values: the last event every 5 s, from a hopping window of 300 s (TopOne)', () => {
    const { rows } = run(
      'SELECT System.Timestamp() AS windowEnd, TopOne() OVER (ORDER BY Time DESC) AS lastEvent FROM input TIMESTAMP BY Time GROUP BY HOPPINGWINDOW(second, 300, 5)',
      [ev('00:00:01', { value: 1 }), ev('00:00:02', { value: 2 }), ev('00:00:05', { value: 3 }), ev('00:00:15', { value: 4 })],
    );
    // Every 5 s from the first event on; a window without new events repeats the last one (it is still within 300 s).
    expect(rows.slice(0, 4).map((r) => plain(r))).toEqual([
      { windowEnd: iso('00:00:05'), lastEvent: { Time: iso('00:00:05'), value: 3 } },
      { windowEnd: iso('00:00:10'), lastEvent: { Time: iso('00:00:05'), value: 3 } },
      { windowEnd: iso('00:00:15'), lastEvent: { Time: iso('00:00:15'), value: 4 } },
      { windowEnd: iso('00:00:20'), lastEvent: { Time: iso('00:00:15'), value: 4 } },
    ]);
    // The last window holding 00:00:15 is (00:00:10, 00:05:10]: its start is exclusive, so (00:00:15, 00:05:15] no longer holds it.
    expect(plain(rows.at(-1)!).windowEnd).toBe(iso('00:05:10'));
  });
});
