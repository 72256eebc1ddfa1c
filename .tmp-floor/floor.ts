import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { IotHubEmulator } from '../cloud/iothub/index.js';
import { unitEnvironment } from '../scripts/bench/support/unit-env.js';
const dir = mkdtempSync(join(tmpdir(), 'floor-'));
const hub = await IotHubEmulator.start({ dataDir: join(dir, 'hub') });
const ca = join(dir, 'ca.pem'); writeFileSync(ca, hub.caPem);
for (const extra of ['', 'classic-level', 'classic-level,pino,zod']) {
  const dev = await hub.registerDevice('floor' + Math.random().toString(36).slice(2, 6));
  const { stdout: out } = await promisify(execFile)(process.execPath, ['.tmp-floor/client.cjs', dev.connectionString, ca, join(dir, 'db' + Math.random())], { env: { ...process.env, ...unitEnvironment('.'), FLOOR_EXTRA: extra }, timeout: 60000 });
  process.stdout.write(out);
}
await hub.stop();
