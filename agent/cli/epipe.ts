import { systemErrorCode } from '../core/errors.js';

/**
 * `edge-agent hub read --json | head -1`: once the reader has gone, stdout fails with EPIPE.
 * Node ignores SIGPIPE, so without this the next write throws an unhandled 'error' with a stack
 * trace. A closed pipe means nobody wants the rest: stop at once and quietly, as `head`'s
 * other inputs do. Any other stdout error is still reported.
 */
export function exitQuietlyOnEpipe(stream: NodeJS.WriteStream = process.stdout, exit: (code: number) => never = process.exit): void {
  stream.on('error', (err: unknown) => {
    if (systemErrorCode(err) === 'EPIPE') exit(0);
    throw err;
  });
}
