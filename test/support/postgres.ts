import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { childLimit, execFileLimited } from './child.js';

const run = execFileLimited;

/**
 * A throwaway PostgreSQL server on loopback for tests: initdb into a temp dir, pg_ctl start on a
 * free port with its unix socket in that dir, readiness by polling pg_isready (bounded), stop
 * and delete in `stop()`. initdb refuses to run as root, so a root test process runs the server
 * as the `postgres` OS user (the Debian package creates it) and hands it the temp dir.
 *
 * Never skips: missing binaries fail with the command that installs them.
 */
export interface PostgresServer {
  port: number;
  /** Connection URL for `database` (default `postgres`). */
  url(database?: string): string;
  /** Creates an empty database and returns its URL. */
  createDatabase(): Promise<string>;
  stop(): Promise<void>;
}

const VERSIONS = ['17', '16', '15', '14', '13'];

function findBinDir(): string {
  for (const v of VERSIONS) {
    const dir = `/usr/lib/postgresql/${v}/bin`;
    if (existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) return dir;
  }
  throw new Error(
    'PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin; ' +
      'the reconciler store tests need them: run `apt-get install -y postgresql` (as root), then test again',
  );
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export async function startPostgres(): Promise<PostgresServer> {
  const bin = findBinDir();
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'edge-pg-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  // As root, every server program runs as `postgres`, which must own the temp dir.
  const asServerUser = (cmd: string, args: string[]): [string, string[]] =>
    isRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  if (isRoot) {
    const ids = await run('id', ['-u', 'postgres']).then(
      async (u) => ({ uid: Number(u.stdout.trim()), gid: Number((await run('id', ['-g', 'postgres'])).stdout.trim()) }),
      () => {
        throw new Error('running as root but there is no `postgres` OS user to run the test server as; `apt-get install -y postgresql` creates it');
      },
    );
    chownSync(dir, ids.uid, ids.gid);
  }
  const exec = async (cmd: string, args: string[]) => {
    const [c, a] = asServerUser(join(bin, cmd), args);
    return run(c, a, { cwd: dir, env: { ...process.env, LC_ALL: 'C' } });
  };

  try {
    await exec('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-locale', '--no-sync', '--no-instructions']);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${(err as Error).message}`);
  }

  let port = 0;
  let started = false;
  // A free port can be taken between probing and binding; try a few before giving up.
  for (let attempt = 0; attempt < 3 && !started; attempt++) {
    port = await freePort();
    const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=60`;
    await exec('pg_ctl', ['-D', data, '-l', logFile, '-o', options, '-W', 'start']).catch(() => undefined);
    started = await waitReady(port, bin);
    if (!started) await exec('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']).catch(() => undefined);
  }
  if (!started) {
    const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-2000) : '(no server log)';
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`PostgreSQL did not become ready on 127.0.0.1; server log tail:\n${log}`);
  }

  // Safety net for a test process that dies before afterAll: never leave a server running on a
  // shared machine. Synchronous, because 'exit' handlers cannot wait.
  let stopped = false;
  const stopOnExit = () => {
    if (stopped) return;
    const [c, a] = asServerUser(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']);
    try {
      execFileSync(c, a, { stdio: 'ignore', cwd: dir, ...childLimit() });
    } catch {
      // Already gone.
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', stopOnExit);

  let dbCounter = 0;
  const url = (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`;
  return {
    port,
    url,
    async createDatabase() {
      const name = `test_${process.pid}_${++dbCounter}`;
      const client = new pg.Client({ connectionString: url() });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return url(name);
    },
    async stop() {
      stopped = true;
      process.removeListener('exit', stopOnExit);
      await exec('pg_ctl', ['-D', data, '-m', 'immediate', '-W', 'stop']).catch(() => undefined);
      // pg_ctl -W returns at once; wait for the postmaster to go before deleting its files.
      const pidFile = join(data, 'postmaster.pid');
      for (let i = 0; i < 100 && existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 50));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls pg_isready with a growing interval, for at most ~20 s. */
async function waitReady(port: number, bin: string): Promise<boolean> {
  const deadline = Date.now() + 20_000;
  let delay = 25;
  while (Date.now() < deadline) {
    const ok = await run(join(bin, 'pg_isready'), ['-q', '-h', '127.0.0.1', '-p', String(port), '-t', '2']).then(
      () => true,
      () => false,
    );
    if (ok) return true;
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 250);
  }
  return false;
}
