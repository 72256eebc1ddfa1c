import type { LevelWithSilent } from 'pino';
import { EdgeError } from '../../core/errors.js';
import type { DiagnosticsContext } from '../context.js';
import { LOG_LEVELS } from '../log-control.js';

/**
 * Run-time log level, for the whole agent or one module (`transport`, `forwarder`, `pipeline`,
 * `twin`, …). Lasts until the agent restarts or the twin sets `log.level`.
 */
export function logLevel(ctx: DiagnosticsContext, args: Record<string, unknown>): Promise<{ levels: Record<string, string> }> {
  if (args.level === undefined) return Promise.resolve({ levels: ctx.logs.levels() });
  const level = args.level;
  if (typeof level !== 'string' || !LOG_LEVELS.includes(level as LevelWithSilent)) {
    throw new EdgeError('EDGE_USAGE', `log level must be one of ${LOG_LEVELS.join(', ')} (got '${String(level)}')`);
  }
  const module = ctx.logs.knownModule(args.module);
  const levels = ctx.logs.setLevel(level as LevelWithSilent, module);
  ctx.logs.logger.warn({ newLevel: level, ...(module ? { forModule: module } : {}) }, 'log level changed from diagnostics');
  return Promise.resolve({ levels });
}
