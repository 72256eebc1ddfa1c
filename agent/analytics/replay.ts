import { StringDecoder } from 'node:string_decoder';
import { EdgeError } from '../core/errors.js';
import { AnalyticsEngine, type AnalyticsEvent, type ResultRow } from './engine.js';
import { newEnv, timeOf } from './expressions.js';
import type { QueryPlan } from './plan.js';
import type { Counters, Tolerances } from './tolerances.js';

export interface ReplayOptions {
  tolerances?: Partial<Tolerances>;
  /** The engine's per-query state bound (held events, open window groups); its default otherwise. */
  maxStateEntries?: number;
  /** Reference data tables by input name (the plan must have been compiled with those referenceInputs). */
  referenceData?: Record<string, ReadonlyArray<Record<string, unknown>>>;
  /** Receives output text (whole JSON lines); awaited, so a slow stdout holds the reader back. */
  write: (text: string) => void | Promise<void>;
}

export interface ReplaySummary {
  events: number;
  rows: number;
  counters: Counters;
}

const FLUSH_AT = 64 * 1024;

/**
 * Offline replay (DESIGN §8): each line of `input` is one JSON event, in arrival order. Arrival
 * time is the event's EventEnqueuedUtcTime when present, else its application time (the
 * query's TIMESTAMP BY). Rows come out as JSON lines keyed by the SELECT aliases, datetimes as
 * ISO 8601 UTC with milliseconds; `output` is added when the query has several outputs, `rev`
 * on revisions. The input is streamed, never held whole.
 */
export async function replayLines(plan: QueryPlan, input: AsyncIterable<string | Buffer>, opts: ReplayOptions): Promise<ReplaySummary> {
  const multi = plan.outputs.length > 1;
  let out = '';
  let rows = 0;
  const onResult = (r: ResultRow): void => {
    rows++;
    out += formatRow(r, multi) + '\n';
  };
  const engine = new AnalyticsEngine({ queries: [plan], tolerances: opts.tolerances, maxStateEntries: opts.maxStateEntries, referenceData: opts.referenceData, onResult });
  const appTimeOf = applicationTime(plan);
  const decoder = new StringDecoder('utf8');
  let carry = '';
  let lineNo = 0;
  let events = 0;

  const handle = (line: string): void => {
    lineNo++;
    if (lineNo === 1 && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    if (line.length === 0 || /^\s*$/.test(line)) return;
    let ev: unknown;
    try {
      ev = JSON.parse(line);
    } catch (cause) {
      throw new EdgeError('EDGE_USAGE', `events line ${lineNo}: not valid JSON`, { cause });
    }
    if (ev === null || typeof ev !== 'object' || Array.isArray(ev)) {
      throw new EdgeError('EDGE_USAGE', `events line ${lineNo}: expected a JSON object`);
    }
    const e = ev as AnalyticsEvent;
    const enq = (e as Record<string, unknown>).EventEnqueuedUtcTime;
    let arrival: number;
    if (enq !== undefined && enq !== null) {
      arrival = timeOf(enq);
      if (Number.isNaN(arrival)) throw new EdgeError('EDGE_USAGE', `events line ${lineNo}: EventEnqueuedUtcTime is not a time`);
    } else {
      if (appTimeOf === null) {
        throw new EdgeError('EDGE_USAGE', `events line ${lineNo}: no EventEnqueuedUtcTime, and the query has no TIMESTAMP BY to take the time from`);
      }
      arrival = appTimeOf(e);
      if (Number.isNaN(arrival)) throw new EdgeError('EDGE_USAGE', `events line ${lineNo}: no EventEnqueuedUtcTime, and its TIMESTAMP BY value is not a time`);
    }
    // Not enumerable: arrival time is the engine's input, not a field of the event, so it must
    // not show up in SELECT * or TopOne() rows.
    // Replay's arrival time rides on the event; SELECT * and TopOne() leave it out again.
    e.arrivalTime = arrival;
    events++;
    engine.push(e);
  };

  try {
    for await (const chunk of input) {
      const text = carry + (typeof chunk === 'string' ? chunk : decoder.write(chunk));
      let start = 0;
      for (;;) {
        const nl = text.indexOf('\n', start);
        if (nl < 0) break;
        const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
        handle(text.slice(start, end));
        start = nl + 1;
      }
      carry = text.slice(start);
      if (out.length >= FLUSH_AT) {
        const o = out;
        out = '';
        await opts.write(o);
      }
    }
    carry += decoder.end();
    if (carry.length > 0) handle(carry.endsWith('\r') ? carry.slice(0, -1) : carry);
    engine.flush();
  } catch (err) {
    // Rows from the lines before a bad one are still true; show them before the error.
    if (out.length > 0) await opts.write(out);
    throw err;
  }
  if (out.length > 0) await opts.write(out);
  return { events, rows, counters: engine.counters()[plan.name]! };
}

export function formatRow(r: ResultRow, withOutput: boolean): string {
  // Named columns cannot be called output or rev (compileQuery refuses them); SELECT * can
  // still bring an event field of that name, which would be silently overwritten.
  if ((withOutput && 'output' in r.row) || (r.rev > 0 && 'rev' in r.row)) {
    throw new EdgeError(
      'EDGE_QUERY_RESERVED_NAME',
      `query '${r.query}', output '${r.output}': SELECT * brings a field named '${withOutput && 'output' in r.row ? 'output' : 'rev'}', which replay's JSON lines use for the ${withOutput && 'output' in r.row ? 'output name' : 'revision'}; select the fields by name`,
    );
  }
  const o: Record<string, unknown> = withOutput ? { output: r.output, ...r.row } : { ...r.row };
  if (r.rev > 0) o.rev = r.rev;
  return JSON.stringify(o);
}

/** The first input statement's TIMESTAMP BY, as a function of the raw event. */
function applicationTime(plan: QueryPlan): ((ev: AnalyticsEvent) => number) | null {
  const f = plan.statements.map((x) => (x.join ? (x.join.left.fromStep ? null : x.join.left.timestamp) : x.fromStep ? null : x.timestamp)).find((x) => x != null);
  if (!f) return null;
  const env = newEnv();
  return (ev) => {
    env.row = ev;
    return timeOf(f(env));
  };
}
