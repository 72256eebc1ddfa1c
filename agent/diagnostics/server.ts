import { chmodSync, chownSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { execFileSync } from 'node:child_process';
import { EdgeError, errorMessage, isEdgeError, systemErrorCode } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { makeDir } from '../store/make-dir.js';
import type { DiagnosticsContext } from './context.js';
import { encodeLine, lineReader, type DiagRequest } from './protocol.js';
import { handlers } from './handlers/index.js';
import type { Handler } from './handlers/handler.js';

export interface DiagnosticsServerOptions {
  socketPath: string;
  /** Group owning the socket (name or gid); default: the process's own group. */
  group?: string | number;
  context: DiagnosticsContext;
  logger: Logger;
}

/**
 * Serves the diagnostics commands on a UNIX socket, mode 0660. A stale socket file left by a
 * killed agent is replaced; a live one (another agent answering) is refused.
 */
export class DiagnosticsServer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  private constructor(
    readonly socketPath: string,
    private readonly options: DiagnosticsServerOptions,
  ) {
    this.server = createServer((socket) => this.serve(socket));
  }

  static async start(options: DiagnosticsServerOptions): Promise<DiagnosticsServer> {
    const s = new DiagnosticsServer(options.socketPath, options);
    await s.listen();
    return s;
  }

  private async listen(): Promise<void> {
    const path = this.socketPath;
    try {
      makeDir(dirname(path), { mode: 0o750 });
    } catch (cause) {
      throw new EdgeError('EDGE_DATA_DIR_UNUSABLE', `the diagnostics socket's directory ${dirname(path)} cannot be created: ${errorMessage(cause)}`, { cause });
    }
    if (await answers(path)) throw new EdgeError('EDGE_STORE_LOCKED', `another edge-agent answers on ${path}`);
    rmSync(path, { force: true });
    // Not via umask (process-wide: LevelDB creates files meanwhile). Until the chmod below the
    // socket has the process umask's mode; connecting needs write permission, which the usual
    // umasks (022, systemd's UMask=0027) give nobody but the owner, and the runtime dir is 0750.
    try {
      await new Promise<void>((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen(path, () => {
          this.server.off('error', reject);
          resolve();
        });
      });
    } catch (cause) {
      throw new EdgeError('EDGE_DATA_DIR_UNUSABLE', `the diagnostics socket ${path} cannot be created: ${errorMessage(cause)}`, { cause });
    }
    try {
      chmodSync(path, 0o660);
      if (this.options.group !== undefined) {
        const gid = typeof this.options.group === 'number' ? this.options.group : groupId(this.options.group);
        try {
          chownSync(path, process.getuid?.() ?? -1, gid);
        } catch (cause) {
          throw new EdgeError('EDGE_CONFIG_INVALID', `diagnostics.group '${String(this.options.group)}' cannot own ${path} (the service must be a member of it): ${errorMessage(cause)}`, { cause });
        }
      }
    } catch (err) {
      await this.close();
      throw err;
    }
    this.options.logger.info({ socket: path }, 'diagnostics listening');
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let handled = false;
    const read = lineReader(
      (value) => {
        if (handled) return;
        handled = true;
        void this.answer(socket, value as DiagRequest);
      },
      () => {
        handled = true;
        socket.end(encodeLine({ ok: false, error: { code: 'EDGE_USAGE', message: 'not a diagnostics request (one JSON line expected)' } }));
      },
    );
    socket.on('data', read);
  }

  private async answer(socket: Socket, req: DiagRequest): Promise<void> {
    const handler: Handler | undefined = typeof req?.cmd === 'string' ? handlers[req.cmd] : undefined;
    if (!handler) {
      socket.end(encodeLine({ ok: false, error: { code: 'EDGE_USAGE', message: `unknown diagnostics command '${String(req?.cmd)}' (agent and CLI of different versions?)` } }));
      return;
    }
    const args = req.args && typeof req.args === 'object' ? req.args : {};
    try {
      const result = await handler(this.options.context, args, {
        emit: (event) => {
          if (!socket.destroyed) socket.write(encodeLine({ event }));
        },
        closed: new Promise<void>((resolve) => socket.once('close', () => resolve())),
      });
      if (!socket.destroyed) socket.end(encodeLine({ ok: true, result }));
    } catch (err) {
      const code = isEdgeError(err) ? err.code : 'EDGE_INTERNAL';
      if (!isEdgeError(err)) this.options.logger.warn({ cmd: req.cmd, err: errorMessage(err) }, 'diagnostics command failed');
      if (!socket.destroyed) socket.end(encodeLine({ ok: false, error: { code, message: errorMessage(err) } }));
    }
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
    rmSync(this.socketPath, { force: true });
  }
}

/** True when something accepts connections on `path` (a live agent), false for a stale file. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

function groupId(name: string): number {
  if (/^\d+$/.test(name)) return Number(name);
  try {
    const line = execFileSync('getent', ['group', name], { encoding: 'utf8' }).trim();
    const gid = Number(line.split(':')[2]);
    if (Number.isInteger(gid)) return gid;
  } catch (err) {
    if (systemErrorCode(err) !== undefined && systemErrorCode(err) !== 'ENOENT') throw err;
  }
  throw new EdgeError('EDGE_CONFIG_INVALID', `diagnostics.group '${name}' is not a group on this machine`);
}
