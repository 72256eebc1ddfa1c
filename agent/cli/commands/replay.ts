import { createReadStream, type ReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { EdgeError, isEdgeError, systemErrorCode } from '../../core/errors.js';
import type { Counters, LatePolicy, ReplaySummary, Tolerances } from '../../analytics/index.js';
import { parseDuration } from '../duration.js';
import { EXIT_USAGE } from '../exit.js';

interface ReplayFlags {
  query: string;
  events: string;
  lateArrival?: string;
  outOfOrder?: string;
  policy?: string;
  allowedLateness?: string;
  maxState?: string;
  json?: boolean;
  reference: string[];
}

/**
 * `edge-agent replay --query Q.sql --events E.jsonl`: run a query offline over a file of events
 * and print result rows as JSON lines — the way to try a query before pushing it to a fleet.
 */
export function registerReplay(program: Command): void {
  program
    .command('replay')
    .description('run an ASA query offline over a JSON-lines file of events; prints result rows as JSON lines')
    .requiredOption('--query <file>', 'the query (ASA SQL)')
    .requiredOption('--events <file>', "events, one JSON object per line, in arrival order ('-' reads stdin)")
    .option('--late-arrival <duration>', 'late-arrival tolerance (default 5s)')
    .option('--out-of-order <duration>', 'out-of-order tolerance (default 0s)')
    .option('--policy <policy>', 'adjust | drop | revise (default adjust)')
    .option('--allowed-lateness <duration>', 'with --policy revise: how long closed windows take corrections (default 0)')
    .option('--max-state <entries>', 'state bound: held events and open window groups (default 1000000)')
    .option('--json', 'print the closing counters on stderr as one JSON line')
    .option('--reference <name=file>', 'reference data for JOIN: a .csv or .json file for the input <name> (repeatable)', (v: string, all: string[]) => [...all, v], [] as string[])
    .action(async (flags: ReplayFlags) => {
      await runReplay(flags);
    });
}

async function runReplay(flags: ReplayFlags): Promise<void> {
  const tolerances: Partial<Tolerances> = {};
  if (flags.lateArrival !== undefined) tolerances.lateArrivalMs = parseDuration(flags.lateArrival, '--late-arrival');
  if (flags.outOfOrder !== undefined) tolerances.outOfOrderMs = parseDuration(flags.outOfOrder, '--out-of-order');
  if (flags.allowedLateness !== undefined) tolerances.allowedLatenessMs = parseDuration(flags.allowedLateness, '--allowed-lateness');
  if (flags.policy !== undefined) {
    if (!['adjust', 'drop', 'revise'].includes(flags.policy)) throw new EdgeError('EDGE_USAGE', `--policy must be adjust, drop or revise, not '${flags.policy}'`);
    tolerances.policy = flags.policy as LatePolicy;
  }
  let maxStateEntries: number | undefined;
  if (flags.maxState !== undefined) {
    maxStateEntries = Number(flags.maxState);
    if (!/^\d+$/.test(flags.maxState) || !Number.isSafeInteger(maxStateEntries) || maxStateEntries < 1) {
      throw new EdgeError('EDGE_USAGE', `--max-state must be a whole number of state entries, not '${flags.maxState}'`);
    }
  }
  let text: string;
  try {
    text = await readFile(flags.query, 'utf8');
  } catch (cause) {
    throw new EdgeError('EDGE_USAGE', `cannot read query file ${flags.query} (${systemErrorCode(cause) ?? 'error'})`, { cause });
  }
  const { compileQuery, replayLines, QueryError, DEFAULT_MAX_STATE_ENTRIES, loadReferenceFile } = await import('../../analytics/index.js');
  const referenceData: Record<string, Array<Record<string, unknown>>> = {};
  for (const spec of flags.reference) {
    const eq = spec.indexOf('=');
    if (eq <= 0 || eq === spec.length - 1) throw new EdgeError('EDGE_USAGE', `--reference takes name=file, not '${spec}'`);
    referenceData[spec.slice(0, eq)] = await loadReferenceFile(spec.slice(eq + 1));
  }
  let plan;
  try {
    plan = compileQuery(text, flags.query, { referenceInputs: Object.keys(referenceData) });
  } catch (err) {
    if (err instanceof QueryError) {
      // The message is already line:column, the line and a caret; the code goes last, on its own.
      process.stderr.write(`edge-agent: ${err.message}\n  [${err.code}]\n`);
      process.exitCode = EXIT_USAGE;
      return;
    }
    throw err;
  }
  const out = new StdoutSink();
  let summary: ReplaySummary;
  try {
    const input = flags.events === '-' ? process.stdin : await openEvents(flags.events);
    summary = await replayLines(plan, input, { tolerances, maxStateEntries, referenceData, write: (text) => out.write(text) });
  } catch (err) {
    // `replay … | head`: the reader has gone, which ends the replay quietly, like other CLI tools.
    if (err === READER_GONE) return;
    if (isEdgeError(err, 'EDGE_QUERY_STATE_LIMIT')) {
      throw new EdgeError('EDGE_QUERY_STATE_LIMIT', `${err.message} (replay: --max-state, now ${maxStateEntries ?? DEFAULT_MAX_STATE_ENTRIES})`, { cause: err });
    }
    throw err;
  }
  process.stderr.write(formatSummary(summary, flags.json === true) + '\n');
}

/**
 * What the engine did besides the rows: without it a replay that adjusted or dropped half its
 * events looks exactly like a clean one.
 */
export function formatSummary(s: ReplaySummary, json: boolean): string {
  const c: Counters = s.counters;
  if (json) return JSON.stringify({ events: s.events, rows: s.rows, ...c });
  return (
    `edge-agent replay: ${s.events} events, ${s.rows} rows; late ${c.lateInput}, out of order ${c.outOfOrder}, early ${c.earlyInput}, ` +
    `adjusted ${c.adjusted}, dropped ${c.dropped}, conversion errors ${c.conversionErrors}` +
    (c.revised > 0 ? `, revised ${c.revised}` : '') +
    (c.unmatchedInput > 0 ? `, of no input of the query ${c.unmatchedInput}` : '')
  );
}

async function openEvents(events: string): Promise<ReadStream> {
  // A directory opens fine on Linux and only fails at the first read, as a bare EISDIR.
  const isDir = await stat(events).then(
    (st) => st.isDirectory(),
    () => false,
  );
  if (isDir) throw new EdgeError('EDGE_USAGE', `--events ${events} is a directory; give a JSON-lines file, or '-' for stdin`);
  const input = createReadStream(events, { highWaterMark: 256 * 1024 });
  const opened = new Promise<void>((resolve, reject) => {
    input.once('open', () => resolve());
    input.once('error', reject);
  });
  try {
    await opened;
  } catch (cause) {
    throw new EdgeError('EDGE_USAGE', `cannot read events file ${events} (${systemErrorCode(cause) ?? 'error'})`, { cause });
  }
  return input;
}

const READER_GONE = new Error('stdout closed');

/**
 * Writes to stdout honouring backpressure; once the reader has gone (EPIPE), every write throws
 * READER_GONE. The error listener stays for the life of the process: an EPIPE can surface after
 * the last write.
 */
class StdoutSink {
  private gone = false;
  private readonly onError = (err: unknown): void => {
    if (systemErrorCode(err) === 'EPIPE') this.gone = true;
    else throw err;
  };

  constructor() {
    process.stdout.on('error', this.onError);
  }

  write(text: string): Promise<void> | void {
    if (this.gone) throw READER_GONE;
    if (process.stdout.write(text)) return;
    return new Promise((resolve, reject) => {
      const drained = () => {
        process.stdout.off('close', closed);
        resolve();
      };
      const closed = () => {
        process.stdout.off('drain', drained);
        reject(READER_GONE);
      };
      process.stdout.once('drain', drained);
      process.stdout.once('close', closed);
    });
  }
}
