import { describe, expect, it } from 'vitest';
import { DeviceError } from '../../../drivers/errors.js';
import { csvParser } from '../../../drivers/serial-line/parsers/csv.js';
import { jsonParser } from '../../../drivers/serial-line/parsers/json.js';
import { nmeaChecksum, nmeaParser, nmeaSentence } from '../../../drivers/serial-line/parsers/nmea.js';
import { regexParser } from '../../../drivers/serial-line/parsers/regex.js';
import type { LineParser, ParsedLine, SkippedLine } from '../../../drivers/serial-line/parser.js';

function fails(p: LineParser, line: string): DeviceError {
  try {
    p.parse(line);
  } catch (err) {
    expect(err).toBeInstanceOf(DeviceError);
    return err as DeviceError;
  }
  throw new Error(`parsed: ${line}`);
}

describe('CSV columns', () => {
  const p = csvParser({ columns: [{ name: 'temp', index: 1 }, { name: 'ok', index: 3, type: 'bool' }, { name: 'id', index: 2, type: 'string' }], timestamp: { index: 0, format: 'iso' }, skipPrefix: '#' });
  it.each([
    ['2026-01-02T03:04:05.500Z,21.5,S-1,1', { values: { temp: 21.5, ok: true, id: 'S-1' }, deviceTime: Date.UTC(2026, 0, 2, 3, 4, 5, 500) }],
    ['2026-01-02T03:04:05Z,,S-2,off', { values: { temp: null, ok: false, id: 'S-2' }, deviceTime: Date.UTC(2026, 0, 2, 3, 4, 5) }],
  ])('%s', (line, want) => expect(p.parse(line)).toEqual(want));
  it('skips a header and refuses short or wrong lines', () => {
    expect(p.parse('# time,temp,id,ok')).toBeUndefined();
    expect(fails(p, '2026-01-02T03:04:05Z,21.5').message).toContain('2 columns');
    expect(fails(p, '2026-01-02T03:04:05Z,warm,S,1').message).toContain("column 1 (temp): 'warm' is not a number");
    expect(fails(p, 'yesterday,1,S,1').code).toBe('EDGE_DEVICE_FRAME');
  });
});

describe('regex with named groups', () => {
  const p = regexParser({ pattern: String.raw`^T=(?<temp>-?[\d.]+)C H=(?<hum>\d+)% @(?<ts>\d+)$`, timestamp: { group: 'ts', format: 'epoch-s' } });
  it('reads the groups and the device time', () => {
    expect(p.points).toEqual(['temp', 'hum']);
    expect(p.parse('T=-3.5C H=81% @1700000000')).toEqual({ values: { temp: -3.5, hum: 81 }, deviceTime: 1_700_000_000_000 });
    expect(fails(p, 'T=?? H=1%').code).toBe('EDGE_DEVICE_FRAME');
  });
  it('can ignore lines that do not match', () => {
    expect(regexParser({ pattern: '(?<v>\\d+)', onMismatch: 'ignore' }).parse('hello')).toBeUndefined();
  });
  it('refuses a pattern without named groups', () => {
    expect(() => regexParser({ pattern: '(\\d+)' })).toThrow('no named groups');
  });
});

describe('JSON lines', () => {
  const p = jsonParser({ fields: { temp: 'm.t', state: 'state', tags: 'tags' }, timestamp: { path: 'ts', format: 'epoch-ms' } });
  it('picks values by path', () => {
    expect(p.parse('{"ts":1700000000123,"m":{"t":4.5},"state":"run","tags":[1,2]}')).toEqual({ values: { temp: 4.5, state: 'run', tags: '[1,2]' }, deviceTime: 1700000000123 });
    expect(fails(p, '{"ts":1,').code).toBe('EDGE_DEVICE_FRAME');
  });
});

/** The values of a line the parser read (not skipped). */
function read(r: ParsedLine | SkippedLine | undefined): ParsedLine {
  if (!r || 'skipped' in r) throw new Error(`expected values, got ${JSON.stringify(r)}`);
  return r;
}

describe('NMEA 0183', () => {
  const p = nmeaParser();
  it('computes checksums as the standard does', () => {
    expect(nmeaChecksum('GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,')).toBe('47');
  });
  it('reads GGA position, fix and altitude', () => {
    const r = read(p.parse('$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47'));
    expect(r.values.latitude).toBeCloseTo(48.1173, 4);
    expect(r.values.longitude).toBeCloseTo(11.516667, 5);
    expect(r.values).toMatchObject({ fixQuality: 1, satellites: 8, hdop: 0.9, altitude: 545.4 });
  });
  it('takes RMC date and time as the device timestamp', () => {
    const r = read(p.parse('$GPRMC,123519,A,4807.038,N,01131.000,W,022.4,084.4,230394,003.1,W*7E'.replace('*7E', '*' + nmeaChecksum('GPRMC,123519,A,4807.038,N,01131.000,W,022.4,084.4,230394,003.1,W'))));
    expect(r.deviceTime).toBe(Date.UTC(1994, 2, 23, 12, 35, 19));
    expect(r.values).toMatchObject({ valid: true, speedKnots: 22.4, course: 84.4 });
    expect(r.values.longitude as number).toBeLessThan(0);
  });
  it('refuses a wrong checksum with EDGE_DEVICE_CRC and ignores unwanted sentences', () => {
    const e = fails(p, '$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*48');
    expect(e.code).toBe('EDGE_DEVICE_CRC');
    expect(e.crc).toBe(true);
    expect(p.parse(nmeaSentence('GPGSV,3,1,11'))).toEqual({ skipped: 'GPGSV', because: 'not among the sentences read (GGA, RMC, MTW)' });
    expect(fails(p, 'garbage').code).toBe('EDGE_DEVICE_FRAME');
  });
  it('reads any sentence by field index when told how', () => {
    const x = nmeaParser({ sentences: ['XDR'], fields: { XDR: { pressure: { index: 2 }, units: { index: 3, type: 'string' } } }, requireChecksum: true });
    expect(read(x.parse(nmeaSentence('IIXDR,P,1.0132,B,BARO'))).values).toEqual({ pressure: 1.0132, units: 'B' });
    expect(fails(x, '$IIXDR,P,1.0132,B,BARO').message).toContain('without checksum');
  });
  it('takes sentence names with the talker id as on the wire (GPGGA, WIMWV) or without it (GGA, MWV)', () => {
    const gga = '$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47';
    const mwv = nmeaSentence('WIMWV,214.8,R,0.1,K,A');
    const fields = { speed: { index: 3 }, angle: { index: 1 } };
    for (const [sentences, key] of [
      [['GPGGA', 'WIMWV'], 'WIMWV'],
      [['GGA', 'MWV'], 'MWV'],
      [['GGA', 'WIMWV'], 'MWV'],
    ] as const) {
      const x = nmeaParser({ sentences: [...sentences], fields: { [key]: fields } });
      expect(x.points).toEqual(['latitude', 'longitude', 'fixQuality', 'satellites', 'hdop', 'altitude', 'speed', 'angle']);
      expect(read(x.parse(gga)).values).toMatchObject({ satellites: 8, altitude: 545.4 });
      expect(read(x.parse(mwv)).values).toEqual({ speed: 0.1, angle: 214.8 });
    }
    // With the talker id, only that talker: a GLONASS fix is not the GPS one.
    const gpsOnly = nmeaParser({ sentences: ['GPGGA'] });
    expect(gpsOnly.parse(nmeaSentence('GLGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,'))).toEqual({ skipped: 'GLGGA', because: 'not among the sentences read (GPGGA)' });
    expect(nmeaParser({ sentences: ['GGA'] }).parse(nmeaSentence('GLGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,'))).toHaveProperty('values');
  });
  it('refuses a sentence it cannot read, naming the fix', () => {
    expect(() => nmeaParser({ sentences: ['WIMWV'] })).toThrow("sentence 'WIMWV': MWV is not built in (GGA, RMC, MTW); give its points as fields.WIMWV (index 1 = first field after the address)");
    expect(() => nmeaParser({ sentences: ['gpgga'] })).toThrow(/'gpgga' is not an NMEA address: give the type \(GGA\) or talker and type \(GPGGA\), upper case/);
  });
});
