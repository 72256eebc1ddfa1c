import { EdgeError } from '../../core/errors.js';
import type { DiagnosticsContext } from '../context.js';
import type { LogEntry } from '../log-control.js';
import type { Stream } from './handler.js';

/**
 * `edge-agent logs [--follow]`: the last lines the agent wrote (kept in memory), then, with
 * `follow`, every new line as an event until the client hangs up.
 */
export async function logs(ctx: DiagnosticsContext, args: Record<string, unknown>, stream: Stream): Promise<{ entries: LogEntry[]; levels: Record<string, string> }> {
  const lines = args.lines ?? 100;
  if (!(typeof lines === 'number' && Number.isInteger(lines) && lines >= 0)) throw new EdgeError('EDGE_USAGE', `lines must be a whole number (got ${String(lines)})`);
  const entries = ctx.logs.tail(lines);
  if (args.follow === true) {
    for (const e of entries) stream.emit(e);
    const stop = ctx.logs.follow((e) => stream.emit(e));
    await stream.closed;
    stop();
    return { entries: [], levels: ctx.logs.levels() };
  }
  return { entries, levels: ctx.logs.levels() };
}
