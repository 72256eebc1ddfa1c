import type { PointValue } from '../../../agent/core/reading.js';
import { frameError } from '../../errors.js';
import { parseTime, type LineParser, type ParsedLine, type TimeFormat } from '../parser.js';

export interface JsonParserOptions {
  /** Point name → dotted path in the object (`"sensor.temp"`). */
  fields: Record<string, string>;
  timestamp?: { path: string; format: TimeFormat };
}

function at(obj: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), obj);
}

/** JSON lines: one object per line, values picked by path. */
export function jsonParser(o: JsonParserOptions): LineParser {
  return {
    points: Object.keys(o.fields),
    parse(line: string): ParsedLine | undefined {
      let doc: unknown;
      try {
        doc = JSON.parse(line);
      } catch {
        throw frameError(`line is not JSON: ${line.slice(0, 60)}`);
      }
      if (doc === null || typeof doc !== 'object') throw frameError('JSON line is not an object');
      const values: ParsedLine['values'] = {};
      for (const [name, path] of Object.entries(o.fields)) {
        const v = at(doc, path);
        values[name] = v === undefined ? null : typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean' || v === null ? (v as PointValue) : JSON.stringify(v);
      }
      const out: ParsedLine = { values };
      if (o.timestamp) {
        const raw = at(doc, o.timestamp.path);
        out.deviceTime = parseTime(raw === undefined ? '' : String(raw), o.timestamp.format, o.timestamp.path);
      }
      return out;
    },
  };
}
