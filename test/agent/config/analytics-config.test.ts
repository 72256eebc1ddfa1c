import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../agent/config/load.js';
import { overlayDesired } from '../../../agent/config/overlay.js';

const base = { hub: { connectionString: 'HostName=h;DeviceId=d;SharedAccessKey=AAAA' }, dataDir: '/tmp/x' };
const JOIN = 'SELECT i.point, i.value, t.maxValue AS maxValue FROM boilers i JOIN thresholds t ON i.point = t.point';

function problems(analytics: unknown): string {
  try {
    parseConfig({ ...base, analytics }, 'test config');
  } catch (err) {
    return (err as Error).message;
  }
  return 'accepted';
}

describe('analytics.inputs and analytics.reference in the config', () => {
  it('accepts named inputs, a reference file and inline rows, with defaults filled in', () => {
    const c = parseConfig(
      {
        ...base,
        analytics: {
          queries: [{ name: 'limits', query: JOIN }],
          inputs: { boilers: { sources: ['boiler-1', 'boiler-2'] }, temps: { points: ['temp'] } },
          reference: { thresholds: { file: '/etc/edge-agent/thresholds.csv' }, sites: { rows: [{ site: 'a', name: 'Hall A' }] } },
        },
      },
      'test',
    );
    expect(c.analytics.inputs.boilers).toEqual({ sources: ['boiler-1', 'boiler-2'] });
    expect(c.analytics.reference.thresholds).toEqual({ file: '/etc/edge-agent/thresholds.csv', pollMs: 5000 });
    expect(c.analytics.reference.sites!.rows).toEqual([{ site: 'a', name: 'Hall A' }]);
  });

  it('compiles a query joining a configured reference input, and refuses it when the table is not configured', () => {
    expect(problems({ queries: [{ name: 'limits', query: JOIN }], reference: { thresholds: { rows: [] } } })).toBe('accepted');
    // Without the reference entry the JOIN is a stream–stream join, which needs a DATEDIFF bound.
    expect(problems({ queries: [{ name: 'limits', query: JOIN }] })).toMatch(/analytics\.queries\.0\.query: .*DATEDIFF/);
  });

  it.each([
    ['an input selecting nothing', { inputs: { boilers: {} } }, /analytics\.inputs\.boilers: an input selects readings by "drivers", "sources" and\/or "points"/],
    ['an empty driver list', { inputs: { boilers: { drivers: [] } } }, /analytics\.inputs\.boilers\.drivers/],
    ['an empty source list', { inputs: { boilers: { sources: [] } } }, /analytics\.inputs\.boilers\.sources/],
    ['a name that is not an identifier', { inputs: { 'boiler-room': { sources: ['b'] } } }, /boiler-room.*is not a usable input name/s],
    ['both file and rows', { reference: { t: { file: '/a.csv', rows: [] } } }, /analytics\.reference\.t: a reference table is either a file .* or inline .*: give exactly one/],
    ['neither file nor rows', { reference: { t: {} } }, /give exactly one/],
    ['a relative path', { reference: { t: { file: 'tables/t.csv' } } }, /analytics\.reference\.t\.file: 'tables\/t\.csv' is not an absolute path/],
    ['a file of unknown format', { reference: { t: { file: '/etc/t.txt' } } }, /analytics\.reference\.t\.format: cannot tell the format of '\/etc\/t\.txt'.*"format": "csv" or "json"/],
    ['rows that are not records', { reference: { t: { rows: [1, 2] } } }, /analytics\.reference\.t\.rows\.0/],
    ['an input and a table of the same name', { inputs: { Limits: { points: ['p'] } }, reference: { limits: { rows: [] } } }, /analytics\.reference\.limits: 'limits' is already the name of an input \('Limits'\)/],
  ])('refuses %s, saying where and why', (_name, analytics, message) => {
    expect(problems(analytics)).toMatch(message);
  });

  it('takes a format for a file whose name does not tell it', () => {
    expect(problems({ reference: { t: { file: '/etc/t.txt', format: 'csv' } } })).toBe('accepted');
  });

  it('lets the twin give a table inline but never name a file to read', () => {
    const file = parseConfig({ ...base, analytics: { reference: { thresholds: { file: '/etc/edge-agent/thresholds.csv' } } } }, 'test');
    const inline = overlayDesired(file, { analytics: { reference: { sites: { rows: [{ site: 'a' }] } } } }, { maxBytes: 32 * 1024 });
    expect(inline.ok).toBe(true);
    if (inline.ok) expect(Object.keys(inline.config.analytics.reference).sort()).toEqual(['sites', 'thresholds']);
    const reads = overlayDesired(file, { analytics: { reference: { secrets: { file: '/etc/shadow', format: 'csv' } } } }, { maxBytes: 32 * 1024 });
    expect(reads).toMatchObject({ ok: false, reason: { path: 'analytics.reference.secrets.file', message: expect.stringMatching(/only in the local config file/) } });
  });
});
