import { frameError } from '../../errors.js';
import { convert, parseTime, type FieldType, type LineParser, type ParsedLine, type TimeFormat } from '../parser.js';

export interface RegexParserOptions {
  /** A regular expression with named groups, e.g. `T=(?<temp>[-\d.]+)C H=(?<hum>\d+)%`. */
  pattern: string;
  flags?: string;
  /** Types per group (default number); groups not listed here and not the timestamp are read as numbers. */
  types?: Record<string, FieldType>;
  /** The group holding the device's timestamp, if any. */
  timestamp?: { group: string; format: TimeFormat };
  /** A line that does not match: `bad` (default) makes bad readings, `ignore` skips it. */
  onMismatch?: 'bad' | 'ignore';
}

export function regexParser(o: RegexParserOptions): LineParser {
  let re: RegExp;
  try {
    re = new RegExp(o.pattern, o.flags);
  } catch (err) {
    throw new TypeError(`invalid regular expression ${o.pattern}: ${(err as Error).message}`);
  }
  const groups = [...o.pattern.matchAll(/\(\?<([A-Za-z_$][\w$]*)>/g)].map((m) => m[1]!);
  if (groups.length === 0) throw new TypeError(`regular expression ${o.pattern} has no named groups`);
  const points = groups.filter((g) => g !== o.timestamp?.group);
  return {
    points,
    parse(line: string): ParsedLine | undefined {
      const m = re.exec(line);
      if (!m?.groups) {
        if (o.onMismatch === 'ignore') return undefined;
        throw frameError(`line does not match ${o.pattern}`);
      }
      const values: ParsedLine['values'] = {};
      for (const g of points) {
        const raw = m.groups[g];
        values[g] = raw === undefined ? null : convert(raw, o.types?.[g] ?? 'number', `group ${g}`);
      }
      const out: ParsedLine = { values };
      if (o.timestamp) out.deviceTime = parseTime(m.groups[o.timestamp.group] ?? '', o.timestamp.format, `group ${o.timestamp.group}`);
      return out;
    },
  };
}
