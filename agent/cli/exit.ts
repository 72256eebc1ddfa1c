import { EdgeError, errorMessage, isEdgeError } from '../core/errors.js';

/** Exit codes: 0 ok, 1 the work failed, 2 the command line was wrong, 78 the config is (sysexits EX_CONFIG). */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** A restart cannot fix a bad config: the unit's RestartPreventExitStatus=78 stops the crash loop. */
export const EXIT_CONFIG = 78;

/**
 * Prints an error the way a technician should see it: one line, the stable code, and the
 * cause's message when it adds something. Never a stack trace (EDGE_DEBUG=1 shows one).
 */
export function reportError(err: unknown, write: (s: string) => void = (s) => process.stderr.write(s)): number {
  const code = isEdgeError(err) ? err.code : undefined;
  let line = `edge-agent: ${errorMessage(err)}`;
  if (code) line += ` [${code}]`;
  const cause = err instanceof Error ? err.cause : undefined;
  // A config error's message already lists every problem; its cause (zod's raw issue dump) would
  // repeat them. A message that already quotes its cause's words gets no second line either.
  if (cause !== undefined && code !== 'EDGE_CONFIG_INVALID' && !errorMessage(err).includes(errorMessage(cause))) line += `\n  because: ${errorMessage(cause)}`;
  write(line + '\n');
  if (process.env.EDGE_DEBUG && err instanceof Error && err.stack) write(err.stack + '\n');
  if (code === 'EDGE_CONFIG_INVALID' || code === 'EDGE_CONFIG_NOT_FOUND') return EXIT_CONFIG;
  return isEdgeError(err, 'EDGE_USAGE') || isEdgeError(err, 'EDGE_QUERY_SYNTAX') ? EXIT_USAGE : EXIT_FAILURE;
}

export function usageError(message: string): EdgeError {
  return new EdgeError('EDGE_USAGE', message);
}
