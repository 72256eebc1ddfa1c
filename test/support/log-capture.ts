import { Writable } from 'node:stream';
import { createRootLogger, type Logger } from '../../agent/core/logger.js';

/** A real pino logger whose JSON lines land, parsed, in `lines` (tests read what was logged). */
export function captureLogger(level: Parameters<typeof createRootLogger>[0] = 'info'): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createRootLogger(level, sink), lines };
}
