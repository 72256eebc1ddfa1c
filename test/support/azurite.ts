import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ROOT } from './cli.js';
import { childLimit, LONG_MS } from './child.js';
import { tempDir } from './tmp.js';

/** Azurite's well-known development account (published in its README; not a secret). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface Azurite {
  /** `http://127.0.0.1:<port>/devstoreaccount1` */
  blobEndpoint: string;
  /** A storage account connection string as the Azure portal gives one, pointing at this Azurite. */
  connectionString: (key?: string) => string;
  close: () => Promise<void>;
}

/**
 * A real Azure Blob Storage endpoint: Azurite's blob service (a devDependency) on a free loopback
 * port, its data in a temp dir, telemetry off (this machine has no network: nothing may wait on it).
 * Resolves once it says it listens; rejects if it exits first. Fails, never skips, if it cannot start.
 */
export async function startAzurite(): Promise<Azurite> {
  const dir = tempDir('azurite');
  const child = spawn(
    process.execPath,
    [join(ROOT, 'node_modules/.bin/azurite-blob'), '--blobHost', '127.0.0.1', '--blobPort', '0', '--location', dir.path, '--silent', '--skipApiVersionCheck', '--loose', '--disableTelemetry'],
    { cwd: dir.path, stdio: ['ignore', 'pipe', 'pipe'], ...childLimit(LONG_MS) },
  );
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /successfully listens on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    void exited.then((code) => reject(new Error(`azurite-blob exited (${code}) before listening: ${out}`)));
  }).catch((err: unknown) => {
    dir.cleanup();
    throw err;
  });
  const blobEndpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  return {
    blobEndpoint,
    connectionString: (key = AZURITE_KEY) => `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${key};BlobEndpoint=${blobEndpoint};`,
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        // Azurite closes its server on SIGTERM, which waits for keep-alive connections: bounded, then SIGKILL.
        child.kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([exited, new Promise<void>((r) => (timer = setTimeout(r, 5000)))]);
        clearTimeout(timer);
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGKILL');
          await exited;
        }
      }
      dir.cleanup();
    },
  };
}

/** A loopback port nobody listens on (bound, then released): an endpoint that cannot be reached. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
