import { AnalyticsEngine, compileQuery, QueryError, type AnalyticsEvent, type ResultRow, type Tolerances } from '../../../agent/analytics/index.js';

export const DAY0 = '2026-01-01T';

/** '00:10:01' or '00:10:01.500' → epoch ms on 2026-01-01. */
export function at(hms: string): number {
  return Date.parse(`${DAY0}${hms}Z`);
}

export function iso(hms: string): string {
  return new Date(at(hms)).toISOString();
}

/** Rows as JSON would show them (Dates become ISO strings), with output/rev when they matter. */
export function plain(r: ResultRow, withOutput = false): Record<string, unknown> {
  const o: Record<string, unknown> = withOutput ? { output: r.output, ...r.row } : { ...r.row };
  if (r.rev > 0) o.rev = r.rev;
  return JSON.parse(JSON.stringify(o)) as Record<string, unknown>;
}

export function run(
  query: string,
  events: AnalyticsEvent[],
  tolerances: Partial<Tolerances> = {},
  opts: { flush?: boolean; maxStateEntries?: number } = {},
): { rows: ResultRow[]; engine: AnalyticsEngine } {
  const rows: ResultRow[] = [];
  const engine = new AnalyticsEngine({ queries: [compileQuery(query, 'q')], tolerances, onResult: (r) => rows.push(r), maxStateEntries: opts.maxStateEntries });
  for (const e of events) engine.push(e);
  if (opts.flush ?? true) engine.flush();
  return { rows, engine };
}

/** The QueryError compiling `text` throws; fails the test if it compiles or throws anything else. */
export function refusalOf(text: string, options?: Parameters<typeof compileQuery>[2]): QueryError {
  let err: unknown;
  try {
    compileQuery(text, 'q.sql', options);
  } catch (e) {
    err = e;
  }
  if (!(err instanceof QueryError)) throw new Error(`expected a QueryError compiling ${text}, got ${err === undefined ? 'no error' : String(err)}`);
  return err;
}
