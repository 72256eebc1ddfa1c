import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnalyticsEngine, compileQuery, parseReferenceText, ReferenceFileSource, referenceTablesFromDesired, type ResultRow } from '../../../agent/analytics/index.js';
import type { EdgeError } from '../../../agent/core/errors.js';
import { at, iso, plain, refusalOf } from './helpers.js';

/**
 * JOIN against reference data (ASA's reference inputs): a table without time, looked up per
 * event, replaced whole when its file or the twin changes.
 */
const REGISTRATION = [
  { LicensePlate: 'ABC-123', RegistrationId: 'R1', Expired: '0' },
  { LicensePlate: 'XYZ-789', RegistrationId: 'R2', Expired: '1' },
  { LicensePlate: 'QRS-111', RegistrationId: 'R3', Expired: '1' },
];

function engineFor(query: string, rows: ResultRow[], referenceData = { Registration: REGISTRATION }): AnalyticsEngine {
  return new AnalyticsEngine({ queries: [compileQuery(query, 'q', { referenceInputs: ['Registration'] })], referenceData, onResult: (r) => rows.push(r) });
}

const car = (t: string, LicensePlate: string, TollId = 1) => ({ EntryTime: iso(t), LicensePlate, TollId, arrivalTime: at(t) });

describe('reference data JOIN', () => {
  it('the JOIN reference example: cars whose registration has expired', () => {
    const rows: ResultRow[] = [];
    const engine = engineFor(
      `SELECT I1.EntryTime, I1.LicensePlate, I1.TollId, R.RegistrationId
       FROM Input1 I1 TIMESTAMP BY EntryTime
       JOIN Registration R ON I1.LicensePlate = R.LicensePlate
       WHERE R.Expired = '1'`,
      rows,
    );
    for (const e of [car('00:00:01', 'ABC-123'), car('00:00:02', 'XYZ-789', 2), car('00:00:03', 'NOP-000'), car('00:00:04', 'QRS-111', 3)]) engine.push(e);
    engine.flush();
    expect(rows.map((r) => plain(r))).toEqual([
      { EntryTime: iso('00:00:02'), LicensePlate: 'XYZ-789', TollId: 2, RegistrationId: 'R2' },
      { EntryTime: iso('00:00:04'), LicensePlate: 'QRS-111', TollId: 3, RegistrationId: 'R3' },
    ]);
  });

  it('LEFT OUTER JOIN keeps events without a match, with NULLs; a reload applies to the events after it', () => {
    const rows: ResultRow[] = [];
    const engine = engineFor('SELECT I.LicensePlate, R.RegistrationId FROM Input I TIMESTAMP BY EntryTime LEFT OUTER JOIN Registration R ON I.LicensePlate = R.LicensePlate', rows);
    engine.push(car('00:00:01', 'NOP-000'));
    engine.push(car('00:00:02', 'ABC-123'));
    engine.setReferenceData('registration', [{ LicensePlate: 'NOP-000', RegistrationId: 'R9' }]);
    engine.push(car('00:00:03', 'NOP-000'));
    engine.push(car('00:00:04', 'ABC-123'));
    engine.flush();
    expect(rows.map((r) => plain(r))).toEqual([
      { LicensePlate: 'NOP-000', RegistrationId: null },
      { LicensePlate: 'ABC-123', RegistrationId: 'R1' },
      { LicensePlate: 'NOP-000', RegistrationId: 'R9' },
      { LicensePlate: 'ABC-123', RegistrationId: null },
    ]);
  });

  it('a bad table is refused and the last good one stays', () => {
    const rows: ResultRow[] = [];
    const engine = engineFor('SELECT R.RegistrationId FROM Input I JOIN Registration R ON I.LicensePlate = R.LicensePlate', rows);
    expect(() => engine.setReferenceData('Registration', [{ LicensePlate: 'A' }, 'oops'] as unknown as Array<Record<string, unknown>>)).toThrow(/row 2: expected a record/);
    engine.push(car('00:00:01', 'ABC-123'));
    engine.flush();
    expect(rows.map((r) => r.row)).toEqual([{ RegistrationId: 'R1' }]);
  });

  it.each([
    ['SELECT r.x FROM Registration r JOIN Input i ON i.k = r.k', 'put the stream on the left'],
    ['SELECT r.x FROM Input i JOIN Registration r TIMESTAMP BY t ON i.k = r.k', 'it has no time, so no TIMESTAMP BY'],
    ['SELECT r.x FROM Input i JOIN Registration r ON i.k = r.k AND DATEDIFF(second, i, r) BETWEEN 0 AND 5', 'no DATEDIFF bound'],
  ])('refuses %s', (text, reason) => {
    expect(refusalOf(text, { referenceInputs: ['registration'] }).message).toContain(reason);
  });
});

describe('reference data files', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'edge-ref-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads CSV (header, quotes, CRLF) and JSON', () => {
    expect(parseReferenceText('\uFEFFid,name\r\n1,"pump, main"\r\n2,"say ""hi"""\r\n', 'r.csv')).toEqual([
      { id: '1', name: 'pump, main' },
      { id: '2', name: 'say "hi"' },
    ]);
    expect(parseReferenceText('[{"id":1}]', 'r.json')).toEqual([{ id: 1 }]);
    expect(() => parseReferenceText('id,name\n1\n', 'r.csv')).toThrow(/record 1: 1 fields, the header has 2/);
    expect(() => parseReferenceText('{"id":1}', 'r.json')).toThrow(/must be a list of records/);
  });

  it('a reload that fails is reported and keeps the last good table; a watched file is reloaded on change', async () => {
    const file = path.join(dir, 'thresholds.csv');
    writeFileSync(file, 'point,limit\ntemp,30\n');
    const rows: ResultRow[] = [];
    const engine = new AnalyticsEngine({
      queries: [compileQuery('SELECT i.point, CAST(t.limit AS float) AS lim FROM input i JOIN thresholds t ON i.point = t.point', 'q', { referenceInputs: ['thresholds'] })],
      onResult: (r) => rows.push(r),
    });
    const reported: EdgeError[] = [];
    let applied: () => void = () => undefined;
    const source = new ReferenceFileSource('thresholds', file, (name, table) => {
      engine.setReferenceData(name, table);
      applied();
    }, (err) => reported.push(err));
    expect(await source.reload()).toBe(true);
    engine.push({ point: 'temp', arrivalTime: 1000 });

    writeFileSync(file, 'point,limit\ntemp\n');
    expect(await source.reload()).toBe(false);
    expect(reported.map((e) => e.code)).toEqual(['EDGE_CONFIG_INVALID']);
    engine.push({ point: 'temp', arrivalTime: 2000 });

    source.watch();
    try {
      const changed = new Promise<void>((resolve) => (applied = resolve));
      // Written aside and renamed over, as deployments do: the watcher sees the rename.
      writeFileSync(path.join(dir, 'next.tmp'), 'point,limit\ntemp,45\n');
      renameSync(path.join(dir, 'next.tmp'), file);
      await changed;
    } finally {
      source.close();
    }
    engine.push({ point: 'temp', arrivalTime: 3000 });
    engine.flush();
    expect(rows.map((r) => r.row)).toEqual([
      { point: 'temp', lim: 30 },
      { point: 'temp', lim: 30 },
      { point: 'temp', lim: 45 },
    ]);
  }, 20_000);
});

describe('reference data from the twin', () => {
  it('applies the good tables of a desired-properties section and reports the bad one', () => {
    const rows: ResultRow[] = [];
    const engine = engineFor('SELECT R.RegistrationId FROM Input I JOIN Registration R ON I.LicensePlate = R.LicensePlate', rows);
    const { tables, errors } = referenceTablesFromDesired({ $version: 7, Registration: [{ LicensePlate: 'ABC-123', RegistrationId: 'R7' }], Broken: { not: 'a list' } });
    expect(Object.keys(tables)).toEqual(['Registration']);
    expect(errors.map((e) => [e.code, e.message])).toEqual([['EDGE_CONFIG_INVALID', "reference data 'Broken' must be a list of records"]]);
    for (const [name, table] of Object.entries(tables)) engine.setReferenceData(name, table);
    engine.push(car('00:00:01', 'ABC-123'));
    engine.flush();
    expect(rows.map((r) => r.row)).toEqual([{ RegistrationId: 'R7' }]);
    expect(referenceTablesFromDesired([1]).errors).toHaveLength(1);
  });
});
