import { EdgeError } from '../../core/errors.js';
import type { DiagnosticsContext } from '../context.js';
import type { LogEntry } from '../log-control.js';
import type { Stream } from './handler.js';

/**
 * `edge-agent logs [--follow]`: the last lines the agent wrote (kept in memory), then, with
 * `follow`, every new line as an event until the client hangs up; `module` keeps one module's
 * lines (an unknown name is refused with the known ones).
 */
export async function logs(ctx: DiagnosticsContext, args: Record<string, unknown>, stream: Stream): Promise<{ entries: LogEntry[]; levels: Record<string, string> }> {
  const lines = args.lines ?? 100;
  if (!(typeof lines === 'number' && Number.isInteger(lines) && lines >= 0)) throw new EdgeError('EDGE_USAGE', `lines must be a whole number (got ${String(lines)})`);
  const module = ctx.logs.knownModule(args.module);
  const entries = ctx.logs.tail(lines, module);
  if (args.follow === true) {
    for (const e of entries) stream.emit(e);
    const stop = ctx.logs.follow((e) => stream.emit(e), module);
    await stream.closed;
    stop();
    return { entries: [], levels: ctx.logs.levels() };
  }
  return { entries, levels: ctx.logs.levels() };
}
