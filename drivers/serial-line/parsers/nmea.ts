import { crcError, frameError } from '../../errors.js';
import { convert, type FieldType, type LineParser, type ParsedLine, type SkippedLine } from '../parser.js';

/** XOR of the characters between `$` (or `!`) and `*`, as two upper-case hex digits. */
export function nmeaChecksum(body: string): string {
  let x = 0;
  for (let i = 0; i < body.length; i++) x ^= body.charCodeAt(i);
  return x.toString(16).toUpperCase().padStart(2, '0');
}

/** `$` + body + `*` + checksum. */
export function nmeaSentence(body: string): string {
  return `$${body}*${nmeaChecksum(body)}`;
}

export interface NmeaParserOptions {
  /**
   * Sentences to read, with or without the talker id: `GGA` reads it from any talker, `GPGGA`
   * only from the GPS (as the address field reads on the wire). `GGA`, `RMC` and `MTW` are built
   * in; any other needs `fields`. Other sentences are skipped, and counted by address.
   */
  sentences?: string[];
  /**
   * For sentences without built-in support, keyed like `sentences` (`MWV` or `WIMWV`): point
   * name → field index (1 = first after the address).
   */
  fields?: Record<string, Record<string, { index: number; type?: FieldType }>>;
  /** Reject sentences without a checksum (default false: the checksum is optional in 0183). */
  requireChecksum?: boolean;
}

/** ddmm.mmmm + hemisphere → signed decimal degrees. */
function coord(v: string, hemi: string): number | null {
  if (!v) return null;
  const dot = v.indexOf('.');
  const degLen = (dot < 0 ? v.length : dot) - 2;
  const deg = Number(v.slice(0, degLen));
  const min = Number(v.slice(degLen));
  if (!Number.isFinite(deg) || !Number.isFinite(min)) throw frameError(`bad coordinate '${v}'`);
  const d = deg + min / 60;
  return hemi === 'S' || hemi === 'W' ? -d : d;
}

function num(v: string | undefined): number | null {
  if (v === undefined || v === '') return null;
  const n = Number(v);
  if (!Number.isFinite(n)) throw frameError(`bad number '${v}'`);
  return n;
}

/** hhmmss.ss + ddmmyy → epoch ms (UTC). */
function utc(time: string, date: string): number | undefined {
  if (!/^\d{6}(\.\d+)?$/.test(time) || !/^\d{6}$/.test(date)) return undefined;
  const yy = Number(date.slice(4, 6));
  return Date.UTC(yy < 80 ? 2000 + yy : 1900 + yy, Number(date.slice(2, 4)) - 1, Number(date.slice(0, 2)), Number(time.slice(0, 2)), Number(time.slice(2, 4)), 0) + Math.round(Number(time.slice(4)) * 1000);
}

const BUILT_IN: Record<string, string[]> = {
  GGA: ['latitude', 'longitude', 'fixQuality', 'satellites', 'hdop', 'altitude'],
  RMC: ['valid', 'latitude', 'longitude', 'speedKnots', 'course'],
  MTW: ['waterTemp'],
};

/** An address field (`GPGGA`) or a configured name (`GGA`, `GPGGA`) as talker + type (the last three letters). */
function address(name: string): { talker: string; type: string } {
  return name.length > 3 ? { talker: name.slice(0, -3), type: name.slice(-3) } : { talker: '', type: name };
}

type Fields = NonNullable<NmeaParserOptions['fields']>[string];

interface Selector {
  talker: string;
  type: string;
  fields?: Fields;
}

function selectors(o: NmeaParserOptions): Selector[] {
  const names = o.sentences ?? ['GGA', 'RMC', 'MTW', ...Object.keys(o.fields ?? {})];
  return names.map((name) => {
    if (!/^[A-Z0-9]{3,8}$/.test(name)) throw new TypeError(`sentence '${name}' is not an NMEA address: give the type (GGA) or talker and type (GPGGA), upper case`);
    const { talker, type } = address(name);
    const fields = o.fields?.[name] ?? o.fields?.[type] ?? (talker ? undefined : Object.entries(o.fields ?? {}).find(([k]) => address(k).type === type)?.[1]);
    if (!fields && !BUILT_IN[type]) throw new TypeError(`sentence '${name}': ${type} is not built in (${Object.keys(BUILT_IN).join(', ')}); give its points as fields.${name} (index 1 = first field after the address)`);
    return { talker, type, ...(fields ? { fields } : {}) };
  });
}

/**
 * NMEA 0183 sentences with checksum. GGA, RMC and MTW are understood out of the box; RMC's
 * date and time become the device timestamp. A failed checksum is `EDGE_DEVICE_CRC`. A
 * sentence not selected is skipped by its address (`GPGSV`), so a sensor that hears lines but
 * yields nothing says which it heard.
 */
export function nmeaParser(o: NmeaParserOptions = {}): LineParser {
  const wanted = selectors(o);
  const points = [...new Set(wanted.flatMap((s) => (s.fields ? Object.keys(s.fields) : BUILT_IN[s.type]!)))];
  const selection = wanted.map((s) => s.talker + s.type).join(', ');
  return {
    points,
    parse(line: string): ParsedLine | SkippedLine {
      const s = line.trim();
      if (!/^[$!]/.test(s)) throw frameError(`not an NMEA sentence: ${s.slice(0, 40)}`);
      const star = s.lastIndexOf('*');
      let body = s.slice(1);
      if (star >= 0) {
        body = s.slice(1, star);
        const given = s.slice(star + 1).toUpperCase();
        const want = nmeaChecksum(body);
        if (given !== want) throw crcError(`NMEA checksum ${given} does not match ${want} in ${s.slice(0, 12)}…`);
      } else if (o.requireChecksum) {
        throw frameError(`NMEA sentence without checksum: ${s.slice(0, 40)}`);
      }
      const f = body.split(',');
      const head = f[0] ?? '';
      const { talker, type } = head.length >= 5 ? address(head) : { talker: '', type: head };
      const selected = wanted.find((w) => w.type === type && (w.talker === '' || w.talker === talker));
      if (!selected) return { skipped: head || '(empty address)', because: `not among the sentences read (${selection})` };
      const values: ParsedLine['values'] = {};
      const out: ParsedLine = { values };
      if (selected.fields) {
        for (const [name, spec] of Object.entries(selected.fields)) values[name] = f[spec.index] === undefined ? null : convert(f[spec.index]!, spec.type ?? 'number', `${head} field ${spec.index}`);
        return out;
      }
      switch (type) {
        case 'GGA':
          Object.assign(values, { latitude: coord(f[2] ?? '', f[3] ?? ''), longitude: coord(f[4] ?? '', f[5] ?? ''), fixQuality: num(f[6]), satellites: num(f[7]), hdop: num(f[8]), altitude: num(f[9]) });
          return out;
        case 'RMC': {
          Object.assign(values, { valid: f[2] === 'A', latitude: coord(f[3] ?? '', f[4] ?? ''), longitude: coord(f[5] ?? '', f[6] ?? ''), speedKnots: num(f[7]), course: num(f[8]) });
          const t = utc(f[1] ?? '', f[9] ?? '');
          if (t !== undefined) out.deviceTime = t;
          return out;
        }
        case 'MTW':
          values.waterTemp = num(f[1]);
          return out;
        default:
          return { skipped: head, because: `${type} is not built in` };
      }
    },
  };
}
