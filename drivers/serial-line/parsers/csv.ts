import { frameError } from '../../errors.js';
import { convert, parseTime, type FieldType, type LineParser, type ParsedLine, type TimeFormat } from '../parser.js';

export interface CsvParserOptions {
  separator?: string;
  /** Columns by 0-based index. */
  columns: Array<{ name: string; index: number; type?: FieldType }>;
  /** The column holding the device's timestamp, if any. */
  timestamp?: { index: number; format: TimeFormat };
  /** Lines starting with this are ignored (a header, a comment). */
  skipPrefix?: string;
}

/** CSV columns: `23.5,1013.2,1` with columns picked by index. */
export function csvParser(o: CsvParserOptions): LineParser {
  const sep = o.separator ?? ',';
  return {
    points: o.columns.map((c) => c.name),
    parse(line: string): ParsedLine | undefined {
      if (o.skipPrefix && line.startsWith(o.skipPrefix)) return undefined;
      const cells = line.split(sep);
      const need = Math.max(...o.columns.map((c) => c.index), o.timestamp?.index ?? 0) + 1;
      if (cells.length < need) throw frameError(`CSV line has ${cells.length} columns, expected at least ${need}`);
      const values: ParsedLine['values'] = {};
      for (const c of o.columns) values[c.name] = convert(cells[c.index]!, c.type ?? 'number', `column ${c.index} (${c.name})`);
      const out: ParsedLine = { values };
      if (o.timestamp) out.deviceTime = parseTime(cells[o.timestamp.index]!, o.timestamp.format, `column ${o.timestamp.index} (timestamp)`);
      return out;
    },
  };
}
