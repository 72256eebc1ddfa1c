import { connect } from 'node:net';
import { EdgeError, errorMessage, systemErrorCode } from '../core/errors.js';
import { encodeLine, lineReader, type DiagLine, type DiagReply } from './protocol.js';

/** Where the CLI looks for the agent: --socket, $EDGE_AGENT_SOCKET, then systemd's runtime dir. */
export const DEFAULT_SOCKET_PATH = '/run/edge-agent/diagnostics.sock';

export function defaultSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.EDGE_AGENT_SOCKET ?? (env.RUNTIME_DIRECTORY ? `${env.RUNTIME_DIRECTORY.split(':')[0]}/diagnostics.sock` : DEFAULT_SOCKET_PATH);
}

/**
 * Sends one request and resolves with the reply's result; `onEvent` receives streamed events.
 * `stop` (an AbortSignal) hangs up, which ends a stream: the promise then resolves `undefined`.
 * Failures to reach the agent become one clear EdgeError: not running, or not allowed.
 */
export function request(socketPath: string, cmd: string, args: Record<string, unknown> = {}, opts: { onEvent?: (e: unknown) => void; stop?: AbortSignal; timeoutMs?: number } = {}): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      fn();
    };
    const timer = opts.timeoutMs
      ? setTimeout(() => finish(() => reject(new EdgeError('EDGE_TRANSPORT_TIMEOUT', `the agent on ${socketPath} did not answer '${cmd}' within ${opts.timeoutMs} ms`))), opts.timeoutMs)
      : undefined;
    opts.stop?.addEventListener('abort', () => finish(() => resolve(undefined)), { once: true });
    socket.once('connect', () => socket.write(encodeLine({ cmd, args })));
    socket.on(
      'data',
      lineReader(
        (value) => {
          const line = value as DiagLine;
          if ('event' in line) return opts.onEvent?.(line.event);
          const reply = line as DiagReply;
          if (reply.ok) finish(() => resolve(reply.result));
          else finish(() => reject(new EdgeError(knownCode(reply.error.code), reply.error.message)));
        },
        (text) => finish(() => reject(new EdgeError('EDGE_USAGE', `${socketPath} answered something that is not the diagnostics protocol: ${text.slice(0, 60)}`))),
      ),
    );
    socket.once('error', (err) => finish(() => reject(unreachable(socketPath, err))));
    socket.once('close', () => finish(() => reject(new EdgeError('EDGE_AGENT_NOT_RUNNING', `the agent on ${socketPath} hung up without answering (is it stopping?)`))));
  });
}

function unreachable(path: string, err: unknown): EdgeError {
  const code = systemErrorCode(err);
  if (code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'ENOTDIR') {
    // No cause: "connect ENOENT …" would only repeat the message on a second line.
    return new EdgeError('EDGE_AGENT_NOT_RUNNING', `the agent is not running (no diagnostics socket at ${path}); check: systemctl status edge-agent`);
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new EdgeError(
      'EDGE_DIAGNOSTICS_DENIED',
      `${path} is not accessible to this user; run as root or as a member of the service's group (e.g. sudo usermod -aG edge-agent $USER, then log in again)`,
    );
  }
  return new EdgeError('EDGE_AGENT_NOT_RUNNING', `cannot reach the agent at ${path}: ${errorMessage(err)}`, { cause: err });
}

function knownCode(code: string): ConstructorParameters<typeof EdgeError>[0] {
  return (code.startsWith('EDGE_') ? code : 'EDGE_USAGE') as ConstructorParameters<typeof EdgeError>[0];
}
