import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../../agent/core/clock.js';
import { silentLogger } from '../../../agent/core/logger.js';
import { HubFileUpload } from '../../../agent/transport/file-upload.js';
import { ConnectionSupervisor } from '../../../agent/transport/supervisor.js';
import { startHub } from '../../support/hub.js';
import { selfSignedDeviceCert } from './self-signed.js';
import { supervisorOptions, untilHistory } from './support.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function connected(s: ConnectionSupervisor): Promise<void> {
  const up = untilHistory(s, (e) => e.event === 'connected');
  s.start();
  await up;
}

describe('HubFileUpload (the SDK uploadToBlob on the supervisor link, against the emulator)', () => {
  it('SAS device: the file is in the hub store under <deviceId>/<name>; a name the hub refuses is EDGE_FILE_UPLOAD_FAILED naming why', async () => {
    const { hub, close } = await startHub();
    cleanups.push(close);
    const dev = await hub.registerDevice('up-sas');
    const s = new ConnectionSupervisor(supervisorOptions(dev.connectionString, hub.caPem));
    cleanups.push(() => s.close());
    await connected(s);
    const up = new HubFileUpload({ link: s, deviceId: 'up-sas', ca: hub.caPem, timeoutMs: 20_000, clock: systemClock, logger: silentLogger });
    const data = randomBytes(100_000);
    expect(await up.upload('a/b.bin', data)).toMatchObject({ blobName: 'up-sas/a/b.bin', bytes: 100_000 });
    // The same client again: its HTTP options are set once, the second upload works the same.
    await up.upload('a/c.bin', Buffer.from('second'));
    const [first, second] = hub.fileUploads();
    expect(readFileSync(first!.path!).equals(data)).toBe(true);
    expect(readFileSync(second!.path!, 'utf8')).toBe('second');

    // A hub that refuses service answers the file endpoints 503; the upload fails, then works again.
    hub.faults.refuseConnections({ mode: 'server-unavailable' });
    await expect(up.upload('outage.bin', Buffer.from('x'))).rejects.toMatchObject({ code: 'EDGE_FILE_UPLOAD_FAILED' });
    hub.faults.acceptConnections();
    await up.upload('outage.bin', Buffer.from('after'));
    expect(hub.fileUploads().filter((u) => u.blobName === 'up-sas/outage.bin')).toMatchObject([{ bytes: 5 }]);

    await expect(up.upload('../escape', Buffer.from('x'))).rejects.toMatchObject({ code: 'EDGE_FILE_UPLOAD_FAILED', message: expect.stringMatching(/shared access signature/i) });
    await s.close();
    await expect(up.upload('late.bin', Buffer.from('x'))).rejects.toMatchObject({ code: 'EDGE_TRANSPORT_UNAVAILABLE' });
  });

  it('X.509 device: the hub knows it by its TLS certificate on the file endpoints too', async () => {
    const { hub, close } = await startHub();
    cleanups.push(close);
    const cert = selfSignedDeviceCert('up-x509');
    const { connectionString } = await hub.registerX509Device('up-x509', cert.thumbprint);
    const s = new ConnectionSupervisor(supervisorOptions(connectionString, hub.caPem, { x509: { cert: cert.cert, key: cert.key } }));
    cleanups.push(() => s.close());
    await connected(s);
    const up = new HubFileUpload({ link: s, deviceId: 'up-x509', ca: hub.caPem, timeoutMs: 20_000, clock: systemClock, logger: silentLogger });
    await up.upload('cert.txt', Buffer.from('by certificate'));
    expect(hub.fileUploads()).toMatchObject([{ deviceId: 'up-x509', blobName: 'up-x509/cert.txt', notification: { isSuccess: true } }]);
  });
});
