import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { Client } from 'azure-iot-device';
import { IotHubEmulator, createSasToken, openFileStoreReader } from '../../../cloud/iothub/index.js';
import { HostPortAgent, trustForBlobStorage } from '../../../agent/transport/file-upload.js';
import { closeQuietly, connectDevice, nextEvent, startHub } from './helpers.js';

type Hub = Awaited<ReturnType<typeof startHub>>;
let env: Hub | undefined;
const clients: Client[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await closeQuietly(c);
  await env?.close();
  env = undefined;
});

/** A device as the SDK connects it, with the HTTP options file upload needs against the emulator. */
async function device(id: string): Promise<Client> {
  const client = await connectDevice(env!.hub, id);
  clients.push(client);
  await client.setOptions({ ca: env!.hub.caPem, http: { agent: new HostPortAgent() } });
  trustForBlobStorage(env!.hub.caPem);
  return client;
}

/** One HTTPS request to the emulator (hub port or blob port), answering status and body. */
function send(url: string, o: { method: string; headers?: Record<string, string>; body?: Buffer | string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: o.method, headers: o.headers ?? {}, ca: env!.hub.caPem, agent: new HostPortAgent() }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

describe('IoT Hub file upload (emulator, through the real SDK)', () => {
  it('uploadToBlob: a multi-block file is stored byte for byte and its notification recorded', async () => {
    env = await startHub();
    const client = await device('fu-1');
    // 5 MiB: the storage client stages it as two blocks (4 MiB at most each), then commits the list.
    const data = randomBytes(5 * 1024 * 1024);
    const notified = nextEvent(env.hub, 'fileUploaded');
    await client.uploadToBlob('bundles/big.bin', Readable.from([data]), data.length);
    expect((await notified)[0]).toMatchObject({ blobName: 'fu-1/bundles/big.bin', notification: { isSuccess: true } });
    const [upload] = env.hub.fileUploads();
    expect(upload).toMatchObject({ deviceId: 'fu-1', blobName: 'fu-1/bundles/big.bin', bytes: data.length, notification: { isSuccess: true, statusCode: 201 } });
    expect(readFileSync(upload!.path!).equals(data)).toBe(true);
  });

  it('a second upload of the same name replaces the blob; a small one arrives whole', async () => {
    env = await startHub();
    const client = await device('fu-2');
    await client.uploadToBlob('x.txt', Readable.from([Buffer.from('first')]), 5);
    await client.uploadToBlob('x.txt', Readable.from([Buffer.from('second!')]), 7);
    const uploads = env.hub.fileUploads();
    expect(uploads).toHaveLength(2);
    expect(readFileSync(uploads[1]!.path!, 'utf8')).toBe('second!');
  });

  it('getBlobSharedAccessSignature + Put Blob + notifyBlobUploadStatus; a tampered or foreign SAS is refused with 403', async () => {
    env = await startHub();
    const client = await device('fu-3');
    const other = await device('fu-4');
    const params = await client.getBlobSharedAccessSignature('direct.log');
    const sas = params.sasToken ?? '';
    expect(params).toMatchObject({ containerName: 'uploads', blobName: 'fu-3/direct.log', sasToken: expect.stringMatching(/^\?sv=.*&sig=/) });
    const url = `https://${params.hostName}/${params.containerName}/${params.blobName}`;
    const put = (sas: string, body: string) => send(`${url}${sas}`, { method: 'PUT', headers: { 'x-ms-blob-type': 'BlockBlob', 'content-length': String(body.length) }, body });

    const tampered = sas.replace(/sig=[^&]+/, `sig=${encodeURIComponent(randomBytes(32).toString('base64'))}`);
    expect(await put(tampered, 'nope')).toMatchObject({ status: 403, body: expect.stringContaining('<Code>AuthenticationFailed</Code>') });
    // Another device's SAS signs another blob's path.
    const foreign = await other.getBlobSharedAccessSignature('direct.log');
    expect((await put(foreign.sasToken ?? '', 'nope')).status).toBe(403);
    expect(env.hub.fileUploads().filter((u) => u.storedAt !== undefined)).toHaveLength(0);

    expect((await put(sas, 'hello blob')).status).toBe(201);
    await client.notifyBlobUploadStatus(params.correlationId, false, 500, 'the device changed its mind');
    const record = env.hub.fileUploads().find((u) => u.correlationId === params.correlationId);
    expect(record).toMatchObject({ bytes: 10, notification: { isSuccess: false, statusCode: 500, statusDescription: 'the device changed its mind' } });
    expect(readFileSync(record!.path!, 'utf8')).toBe('hello blob');
  });

  it('the hub refuses a SAS request signed with a wrong key (401) and a blob name that climbs out (400)', async () => {
    env = await startHub();
    const dev = await env.hub.registerDevice('fu-5');
    const base = `https://${env.hub.hostName}/devices/fu-5/files?api-version=2020-09-30`;
    const body = JSON.stringify({ blobName: 'a.txt' });
    const headers = (token: string) => ({ authorization: token, 'content-type': 'application/json', 'content-length': String(body.length) });
    const expiry = Math.floor(Date.now() / 1000) + 600;
    const wrong = createSasToken(`${env.hub.hostName}/devices/fu-5`, randomBytes(32).toString('base64'), expiry);
    expect(await send(base, { method: 'POST', headers: headers(wrong), body })).toMatchObject({ status: 401, body: expect.stringContaining('IotHubUnauthorizedAccess') });
    const right = createSasToken(`${env.hub.hostName}/devices/fu-5`, dev.primaryKey, expiry);
    expect((await send(base, { method: 'POST', headers: headers(right), body })).status).toBe(200);
    const climb = JSON.stringify({ blobName: '../../etc/x' });
    expect((await send(base, { method: 'POST', headers: { ...headers(right), 'content-length': String(climb.length) }, body: climb })).status).toBe(400);
    // MQTT on the same port still works after HTTP was served there.
    const client = await device('fu-6');
    await client.sendEvent(new (await import('azure-iot-device')).Message('still MQTT'));
    expect(env.hub.messageCount()).toBe(1);
  });

  it('uploads and the SAS key survive a restart; the reader sees stored blobs with the emulator stopped', async () => {
    env = await startHub();
    const client = await device('fu-7');
    await client.uploadToBlob('before.txt', Readable.from([Buffer.from('kept')]), 4);
    const old = await client.getBlobSharedAccessSignature('after-restart.txt');
    await closeQuietly(clients.pop());
    await env.hub.stop();
    const reader = await openFileStoreReader(env.dir);
    expect(reader.list().map((u) => u.blobName)).toEqual(['fu-7/before.txt']);
    expect(readFileSync(reader.blobPath(reader.list()[0]!), 'utf8')).toBe('kept');

    const { dir, close } = env;
    const again = await IotHubEmulator.start({ dataDir: dir });
    env = { hub: again, dir, close: async () => { await again.stop(); await close(); } };
    expect(again.fileUploads().map((u) => u.blobName)).toEqual(['fu-7/before.txt', 'fu-7/after-restart.txt']);
    // The blob endpoint has a new port; the SAS issued before the restart still opens its blob.
    const { hostName } = await (await device('fu-7')).getBlobSharedAccessSignature('probe.txt');
    const put = await send(`https://${hostName}/${old.containerName}/${old.blobName}${old.sasToken}`, { method: 'PUT', headers: { 'x-ms-blob-type': 'BlockBlob', 'content-length': '5' }, body: 'later' });
    expect(put.status).toBe(201);
    expect(again.fileUploads().find((u) => u.blobName === 'fu-7/after-restart.txt')).toMatchObject({ bytes: 5 });
  });
});
