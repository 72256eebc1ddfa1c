import { createReadStream, type ReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { EdgeError, isEdgeError, systemErrorCode } from '../../core/errors.js';
import type { LatePolicy, Tolerances } from '../../analytics/index.js';
import { parseDuration } from '../duration.js';
import { EXIT_USAGE } from '../exit.js';

interface ReplayFlags {
  query: string;
  events: string;
  lateArrival?: string;
  outOfOrder?: string;
  policy?: string;
  allowedLateness?: string;
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
  let text: string;
  try {
    text = await readFile(flags.query, 'utf8');
  } catch (cause) {
    throw new EdgeError('EDGE_USAGE', `cannot read query file ${flags.query} (${systemErrorCode(cause) ?? 'error'})`, { cause });
  }
  const { compileQuery, replayLines } = await import('../../analytics/index.js');
  let plan;
  try {
    plan = compileQuery(text, flags.query);
  } catch (err) {
    if (isEdgeError(err, 'EDGE_QUERY_SYNTAX') || isEdgeError(err, 'EDGE_QUERY_UNSUPPORTED')) {
      // The message is already line:column, the line and a caret; the code goes last, on its own.
      process.stderr.write(`edge-agent: ${err.message}\n  [${err.code}]\n`);
      process.exitCode = EXIT_USAGE;
      return;
    }
    throw err;
  }
  const out = new StdoutSink();
  try {
    const input = flags.events === '-' ? process.stdin : await openEvents(flags.events);
    await replayLines(plan, input, { tolerances, write: (text) => out.write(text) });
  } catch (err) {
    // `replay … | head`: the reader has gone, which ends the replay quietly, like other CLI tools.
    if (err === READER_GONE) return;
    throw err;
  }
}

async function openEvents(events: string): Promise<ReadStream> {
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
