import { spawn, type ChildProcess } from 'node:child_process';
import { unavailableError } from '../errors.js';

/** Two connected pseudo-terminals: what one end writes, the other reads (a null-modem cable). */
export interface PtyPair {
  a: string;
  b: string;
  /** Symlinks to `a` and `b` when asked for (they stand in for `/dev/serial/by-id/…`). */
  linkA?: string;
  linkB?: string;
  readonly process: ChildProcess;
  /** Kills socat and resolves once it has exited (both ptys are gone then). */
  close(): Promise<void>;
}

export interface PtyPairOptions {
  linkA?: string;
  linkB?: string;
  timeoutMs?: number;
}

/**
 * Starts `socat -d -d pty,raw,echo=0 pty,raw,echo=0` and waits, by reading its stderr, until
 * both pty paths are known and its transfer loop has started. Needs the `socat` package.
 */
export function openPtyPair(options: PtyPairOptions = {}): Promise<PtyPair> {
  const end = (link?: string): string => `pty,raw,echo=0${link ? `,link=${link}` : ''}`;
  const child = spawn('socat', ['-d', '-d', end(options.linkA), end(options.linkB)], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return new Promise<PtyPair>((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => {
      void close();
      reject(unavailableError(`socat did not report a pty pair within ${options.timeoutMs ?? 5000} ms: ${text.trim()}`));
    }, options.timeoutMs ?? 5000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(unavailableError(`cannot start socat (is it installed?): ${err.message}`, err));
    });
    const early = (code: number | null): void => {
      clearTimeout(timer);
      reject(unavailableError(`socat exited (${code}) before the pty pair was ready: ${text.trim()}`));
    };
    child.once('exit', early);
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      text += chunk;
      const paths = [...text.matchAll(/PTY is (\/dev\/\S+)\n/g)].map((m) => m[1]!);
      if (paths.length >= 2 && /starting data transfer loop/.test(text)) {
        clearTimeout(timer);
        child.stderr!.removeAllListeners('data');
        child.stderr!.resume();
        child.off('exit', early);
        const pair: PtyPair = { a: paths[0]!, b: paths[1]!, process: child, close };
        if (options.linkA) pair.linkA = options.linkA;
        if (options.linkB) pair.linkB = options.linkB;
        resolve(pair);
      }
    });
  });
}
