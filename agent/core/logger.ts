import { fstatSync } from 'node:fs';
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/**
 * JSON lines on stdout (journald captures them). One child logger per module (`module` field)
 * so diagnostics can raise one part's level at run time. Module names are lowercase, dotted
 * from the general to the particular: `transport`, `forwarder`, `drivers.modbus`.
 */
export function createRootLogger(level: LevelWithSilent = 'info', destination?: NodeJS.WritableStream): Logger {
  const out = destination ?? pino.destination(1);
  return pino({ level, base: { pid: process.pid } }, destination === undefined && syslogPrefixWanted() ? withSyslogPriority(out) : out);
}

export const silentLogger: Logger = pino({ level: 'silent' });

/**
 * The syslog priority journald gives a line (sd-daemon(3) `<N>` prefix): fatal → 2 (crit),
 * error → 3 (err), warn → 4 (warning), info → 6 (info), debug and trace → 7 (debug). Notice (5)
 * is not used: pino has no level between warn and info.
 */
export function syslogPriority(pinoLevel: number): number {
  if (pinoLevel >= 60) return 2;
  if (pinoLevel >= 50) return 3;
  if (pinoLevel >= 40) return 4;
  if (pinoLevel >= 30) return 6;
  return 7;
}

/** pino writes `level` first; a line it did not write (or a custom one) is parsed. */
function lineLevel(line: string): number {
  const m = /^\{"level":(\d+)/.exec(line);
  if (m) return Number(m[1]);
  try {
    const level = (JSON.parse(line) as { level?: unknown }).level;
    return typeof level === 'number' ? level : 30;
  } catch {
    return 30;
  }
}

/** `<N>` + the line, for journald's stdout stream (it strips the prefix and keeps N as PRIORITY). */
export function prefixSyslogPriority(line: string): string {
  return `<${syslogPriority(lineLevel(line))}>${line}`;
}

export function withSyslogPriority(out: Pick<NodeJS.WritableStream, 'write'>): { write(line: string): boolean } {
  return { write: (line: string) => out.write(prefixSyslogPriority(line)) };
}

/**
 * Whether stdout lines get the `<N>` prefix: `EDGE_LOG_SYSLOG_PREFIX=1|0` decides when set;
 * otherwise only when stdout is the journal's stream, i.e. `JOURNAL_STREAM` (set by systemd
 * to `device:inode`) names the file descriptor 1 really is. A child that inherits the variable
 * but writes to a pipe or a terminal gets plain JSON.
 */
export function syslogPrefixWanted(env: NodeJS.ProcessEnv = process.env, fd = 1): boolean {
  const forced = env.EDGE_LOG_SYSLOG_PREFIX;
  if (forced === '1' || forced === 'true') return true;
  if (forced === '0' || forced === 'false') return false;
  const stream = env.JOURNAL_STREAM;
  if (!stream) return false;
  try {
    const st = fstatSync(fd, { bigint: true });
    return stream === `${st.dev}:${st.ino}`;
  } catch {
    return false;
  }
}
