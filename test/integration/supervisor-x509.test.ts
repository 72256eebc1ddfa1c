import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionSupervisor } from '../../agent/transport/supervisor.js';
import { startHub } from '../support/hub.js';
import { supervisorOptions, untilHistory } from '../agent/transport/support.js';
import { selfSignedDeviceCert } from '../agent/transport/self-signed.js';
import { next, startTwinAgent } from '../agent/twin/support.js';
import { tempDir } from '../support/tmp.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

describe('connection supervisor with an X.509 client certificate', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('connects and sends with the registered certificate; another certificate is refused as unauthorized', async () => {
    const { hub, close } = await startHub();
    cleanups.push(close);
    const good = selfSignedDeviceCert('x509-dev');
    const { connectionString } = await hub.registerX509Device('x509-dev', good.thumbprint);
    expect(connectionString).toMatch(/x509=true$/);

    const s = new ConnectionSupervisor(supervisorOptions(connectionString, hub.caPem, { x509: { cert: good.cert, key: good.key } }));
    cleanups.push(() => s.close());
    await s.send({ messageId: 'x', body: Buffer.from('{"ok":1}'), contentType: 'application/json', contentEncoding: 'utf-8', properties: {} });
    expect(hub.messageCount()).toBe(1);
    expect(s.status()).toMatchObject({ state: 'connected', auth: 'x509' });
    expect(s.status().tokenExpiresAt).toBeUndefined();

    const other = selfSignedDeviceCert('x509-dev');
    const impostor = new ConnectionSupervisor(supervisorOptions(connectionString, hub.caPem, { x509: { cert: other.cert, key: other.key } }));
    cleanups.push(() => impostor.close());
    const refused = new Promise<string>((resolve) => hub.once('refused', (_id, reason) => resolve(reason)));
    const failed = untilHistory(impostor, (e) => e.event === 'failed');
    impostor.start();
    expect(await refused).toMatch(/thumbprint/);
    expect(await failed).toMatchObject({ code: 'EDGE_TRANSPORT_UNAUTHORIZED' });
    expect(s.status().state).toBe('connected');
  });

  it('the whole agent runs on hub.x509 certFile/keyFile from the config file, twin included', async () => {
    const { hub, close } = await startHub();
    cleanups.push(close);
    const dir = tempDir('x509-agent');
    cleanups.push(dir.cleanup);
    const cert = selfSignedDeviceCert('x509-agent');
    const { connectionString } = await hub.registerX509Device('x509-agent', cert.thumbprint);
    const files = { certFile: join(dir.path, 'device.pem'), keyFile: join(dir.path, 'device.key'), caFile: join(dir.path, 'ca.pem') };
    writeFileSync(files.certFile, cert.cert);
    writeFileSync(files.keyFile, cert.key, { mode: 0o600 });
    writeFileSync(files.caFile, hub.caPem);
    const run = await startTwinAgent(hub, connectionString, join(dir.path, 'data'), { hub: { connectionString, caFile: files.caFile, x509: { certFile: files.certFile, keyFile: files.keyFile } } });
    cleanups.push(() => run.agent.stop(0));
    await next(run.reported, 'sent', (p) => p.agent !== undefined);
    expect(run.transport.status()).toMatchObject({ state: 'connected', auth: 'x509' });
    expect(hub.getTwin('x509-agent').reported).toMatchObject({ health: { connection: { state: 'connected' } } });
  });
});
