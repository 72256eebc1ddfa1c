import { EdgeError, systemErrorCode } from '../../agent/core/errors.js';

interface Listenable {
  listen(port: number, host: string): unknown;
  once(event: 'error', fn: (err: Error) => void): unknown;
  once(event: 'listening', fn: () => void): unknown;
  removeListener(event: 'error', fn: (err: Error) => void): unknown;
}

/** Listens, turning EADDRINUSE into a message that names the port. */
export function listen(server: Listenable, port: number, host: string, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: unknown): void => {
      const code = systemErrorCode(err);
      // No `cause`: the system message adds nothing and would make the CLI's report two lines.
      if (code === 'EADDRINUSE') reject(new EdgeError('EDGE_PORT_IN_USE', `port ${port} is already in use (${what} on ${host})`));
      else if (code === 'EACCES') reject(new EdgeError('EDGE_PORT_IN_USE', `not allowed to listen on port ${port} (${what} on ${host})`, { cause: err }));
      else reject(err);
    };
    server.once('error', onError);
    server.once('listening', () => {
      server.removeListener('error', onError);
      resolve();
    });
    server.listen(port, host);
  });
}

