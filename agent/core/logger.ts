import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/**
 * JSON lines on stdout (journald captures them). One child logger per module (`module` field)
 * so diagnostics can raise one part's level at run time.
 */
export function createRootLogger(level: LevelWithSilent = 'info', destination?: NodeJS.WritableStream): Logger {
  return pino({ level, base: { pid: process.pid } }, destination ?? pino.destination(1));
}

export const silentLogger: Logger = pino({ level: 'silent' });
