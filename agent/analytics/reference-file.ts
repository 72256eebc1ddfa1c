import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { EdgeError, systemErrorCode } from '../core/errors.js';
import type { Row } from './operator.js';
import { checkedRows } from './reference-table.js';

/**
 * Reference data from a local file: `.csv` (a header line, then one record per line, RFC 4180
 * quoting; every value is text, as in ASA — CAST where a number is meant) or `.json` (an array
 * of records). Throws EDGE_CONFIG_INVALID naming the file and line.
 */
export async function loadReferenceFile(file: string): Promise<Row[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new EdgeError('EDGE_CONFIG_INVALID', `cannot read reference data ${file} (${systemErrorCode(cause) ?? 'error'})`, { cause });
  }
  return parseReferenceText(text, file);
}

/** `format` overrides the file name's extension (a `.txt` that holds CSV). */
export function parseReferenceText(text: string, file: string, format?: 'csv' | 'json'): Row[] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if ((format ?? (path.extname(file).toLowerCase() === '.csv' ? 'csv' : 'json')) === 'csv') return parseCsv(text, file);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new EdgeError('EDGE_CONFIG_INVALID', `reference data ${file}: not valid JSON`, { cause });
  }
  return checkedRows(file, value);
}

function parseCsv(text: string, file: string): Row[] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  let line = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === '\n') line++;
        field += c;
      }
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      record.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      record.push(field);
      field = '';
      if (record.length > 1 || record[0] !== '') records.push(record);
      record = [];
      line++;
    } else field += c;
  }
  if (quoted) throw new EdgeError('EDGE_CONFIG_INVALID', `reference data ${file}, line ${line}: unterminated quoted field`);
  record.push(field);
  if (record.length > 1 || record[0] !== '') records.push(record);
  const [header, ...body] = records;
  if (header === undefined) return [];
  return body.map((r, i) => {
    if (r.length !== header.length) throw new EdgeError('EDGE_CONFIG_INVALID', `reference data ${file}, record ${i + 1}: ${r.length} fields, the header has ${header.length}`);
    const row: Row = {};
    header.forEach((h, k) => (row[h] = r[k]));
    return row;
  });
}

/**
 * Keeps a reference input's table in step with its file: reload() reads it and, when it parses,
 * hands the rows to `apply` (AnalyticsEngine.setReferenceData, an atomic swap); when it does not,
 * the last good table stays and `report` gets the error. watch() reloads on every change of the
 * file (watching its directory, so an editor's or a deployment's rename-over is seen too).
 */
export class ReferenceFileSource {
  private watcher: FSWatcher | null = null;
  private loading: Promise<boolean> | null = null;
  private again = false;

  constructor(
    readonly name: string,
    readonly file: string,
    private readonly apply: (name: string, rows: Row[]) => void,
    private readonly report: (err: EdgeError) => void,
  ) {}

  /** True when the file was loaded and applied; false when it was reported and the old table kept. */
  reload(): Promise<boolean> {
    if (this.loading !== null) {
      // A change during a load: load once more after it, so the last version wins.
      this.again = true;
      return this.loading;
    }
    this.loading = this.load().finally(() => {
      this.loading = null;
      if (this.again) {
        this.again = false;
        void this.reload();
      }
    });
    return this.loading;
  }

  private async load(): Promise<boolean> {
    try {
      const rows = await loadReferenceFile(this.file);
      this.apply(this.name, rows);
      return true;
    } catch (err) {
      this.report(err instanceof EdgeError ? err : new EdgeError('EDGE_CONFIG_INVALID', `reference data ${this.file}: ${String(err)}`, { cause: err }));
      return false;
    }
  }

  watch(): void {
    if (this.watcher !== null) return;
    const base = path.basename(this.file);
    this.watcher = watch(path.dirname(this.file), (_event, changed) => {
      if (changed === null || changed === base) void this.reload();
    });
  }

  close(): void {
    this.watcher?.close();
    this.watcher = null;
  }
}
