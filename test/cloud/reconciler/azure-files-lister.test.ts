import { gzipSync } from 'node:zlib';
import { BlobServiceClient, ContainerSASPermissions, type ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backlogFileLines, backlogFileName } from '../../../agent/core/backlog-file.js';
import { isEdgeError } from '../../../agent/core/errors.js';
import { BacklogFilesSource, azureContainerLister, checkFilesContainer, filesContainerClient } from '../../../cloud/reconciler/index.js';
import { closedPort, startAzurite, type Azurite } from '../../support/azurite.js';

/** A backlog file of `n` readings from `first` on, as the drainer writes one. */
function backlogFile(device: string, first: number, n: number): { name: string; body: Buffer } {
  const json = Array.from({ length: n }, (_, i) => JSON.stringify({ seq: first + i, kind: 'reading', t: 1_000 + i, at: 1_001 + i, src: 's', pt: 'p', v: i, q: 'good' }));
  return { name: `${device}/${backlogFileName('reading', first, first + n - 1)}`, body: gzipSync(backlogFileLines(device, 'boot-1', json).join('\n') + '\n') };
}

async function upload(c: ContainerClient, f: { name: string; body: Buffer }): Promise<void> {
  await c.getBlockBlobClient(f.name).uploadData(f.body);
}

/** Creation times as the service reports them (second resolution), by name. */
async function createdOn(c: ContainerClient): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for await (const b of c.listBlobsFlat()) out.set(b.name, b.properties.createdOn!.getTime());
  return out;
}

/** Waits until the service's clock (a listing's Date header) is past `t`: the next blob is created in a later second. */
async function untilServicePast(c: ContainerClient, t: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const page = (await c.listBlobsFlat().byPage({ maxPageSize: 1 }).next()).value as { date?: Date };
    if (page.date!.getTime() > t) return;
    if (Date.now() > deadline) throw new Error(`the service clock did not pass ${new Date(t).toISOString()}`);
  }
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(isEdgeError(err), String(err)).toBe(true);
    return (err as { code: string }).code;
  }
  throw new Error('expected a refusal');
}

/** The Blob lister of the reconciler against a real Blob endpoint (Azurite, through @azure/storage-blob). */
describe('azureContainerLister against Azurite', () => {
  let az: Azurite;
  let service: BlobServiceClient;

  beforeAll(async () => {
    az = await startAzurite();
    service = BlobServiceClient.fromConnectionString(az.connectionString());
  }, 60_000);
  afterAll(async () => {
    await az?.close();
  });

  it('lists by creation time first, then by name; other blobs are passed over; the source reads the files in that order', async () => {
    const c = service.getContainerClient('order');
    await c.create();
    // First, alone in its second: its name sorts after every later one.
    const early = backlogFile('gw', 900, 3);
    await upload(c, early);
    await untilServicePast(c, (await createdOn(c)).get(early.name)!);
    // Then nine in reverse name order, back to back: those sharing a second must come out by name.
    const batch = Array.from({ length: 9 }, (_, i) => backlogFile('gw', 100 * (9 - i), 2));
    for (const f of batch) await upload(c, f);
    await upload(c, { name: 'gw/support/bundle.tar.gz', body: Buffer.from('not a backlog file') });

    const created = await createdOn(c);
    const names = (await azureContainerLister(c, { settleMs: 0 }).list()).map((f) => f.blobName);
    expect(names[0]).toBe(early.name);
    const expected = [...batch.map((f) => f.name), 'gw/support/bundle.tar.gz'].sort((a, b) => created.get(a)! - created.get(b)! || (a < b ? -1 : 1));
    expect(names.slice(1)).toEqual(expected);
    // Within a second, the one uploaded later comes first (its name sorts first): name alone decides.
    const sameSecond = batch.flatMap((f, i) => batch.slice(i + 1).filter((g) => created.get(g.name) === created.get(f.name)).map((g) => [f.name, g.name] as const));
    expect(sameSecond.length).toBeGreaterThan(0);
    for (const [before, after] of sameSecond) expect(names.indexOf(after)).toBeLessThan(names.indexOf(before));

    // The source: the backlog files' lines in the lister's order, the support bundle passed over.
    const source = new BacklogFilesSource(azureContainerLister(c, { settleMs: 0 }));
    const read = await source.read('files', 0, 1000);
    const firstSeqs = read.events.map((e) => (JSON.parse(e.body.toString()) as { records: Array<{ seq: number }> }).records[0]!.seq);
    expect(firstSeqs).toEqual(names.filter((n) => n.includes('/backlog/')).map((n) => Number(/\/(\d+)-/.exec(n)![1])));
    expect(read.events.every((e) => e.deviceId === 'gw')).toBe(true);

    // Instances sharing a store: the files partition is listed only where readWhile says so (cloud run: the owner of Event Hubs partition 0).
    let owner = false;
    const gated = new BacklogFilesSource(azureContainerLister(c, { settleMs: 0 }), { readWhile: async () => owner });
    expect(await gated.partitionIds()).toEqual([]);
    owner = true;
    expect(await gated.partitionIds()).toEqual(['files']);
  }, 60_000);

  it('holds back a blob younger than settleMs by the service clock, and lists it once settled', async () => {
    const c = service.getContainerClient('settle');
    await c.create();
    const f = backlogFile('gw', 1, 5);
    await upload(c, f);
    expect(await azureContainerLister(c, { settleMs: 3_600_000 }).list()).toEqual([]);
    const [listed] = await azureContainerLister(c, { settleMs: 0 }).list();
    expect(listed!.blobName).toBe(f.name);
    expect(await listed!.read()).toEqual(f.body);
  });

  it('a wrong key, a SAS without list, a missing container, nobody listening: each its own EDGE_ code, from the check and from list()', async () => {
    await service.getContainerClient('refusals').create();
    const wrongKey = filesContainerClient({ connectionString: az.connectionString(Buffer.alloc(64, 7).toString('base64')), container: 'refusals' });
    expect(await codeOf(checkFilesContainer(wrongKey))).toBe('EDGE_TRANSPORT_UNAUTHORIZED');
    expect(await codeOf(azureContainerLister(wrongKey).list())).toBe('EDGE_TRANSPORT_UNAUTHORIZED');

    const readOnly = await service.getContainerClient('refusals').generateSasUrl({ permissions: ContainerSASPermissions.parse('r'), expiresOn: new Date(Date.now() + 3_600_000) });
    expect(await codeOf(checkFilesContainer(filesContainerClient({ containerUrl: readOnly })))).toBe('EDGE_TRANSPORT_UNAUTHORIZED');
    const listRead = await service.getContainerClient('refusals').generateSasUrl({ permissions: ContainerSASPermissions.parse('rl'), expiresOn: new Date(Date.now() + 3_600_000) });
    await checkFilesContainer(filesContainerClient({ containerUrl: listRead }));

    expect(await codeOf(checkFilesContainer(filesContainerClient({ connectionString: az.connectionString(), container: 'no-such-container' })))).toBe('EDGE_USAGE');

    const closed = await closedPort();
    const nobody = filesContainerClient({ connectionString: az.connectionString().replace(/127\.0\.0\.1:\d+/, `127.0.0.1:${closed}`), container: 'refusals' });
    expect(await codeOf(checkFilesContainer(nobody))).toBe('EDGE_TRANSPORT_UNAVAILABLE');
    expect(await codeOf(azureContainerLister(nobody).list())).toBe('EDGE_TRANSPORT_UNAVAILABLE');
    // A SAS is a credential: an error about its container never carries the signature.
    const sasNobody = filesContainerClient({ containerUrl: listRead.replace(/127\.0\.0\.1:\d+/, `127.0.0.1:${closed}`) });
    const err = await checkFilesContainer(sasNobody).then(() => undefined, (e: unknown) => e as Error & { cause: Error });
    expect(err).toMatchObject({ code: 'EDGE_TRANSPORT_UNAVAILABLE' });
    expect(`${err!.message} ${err!.cause.message}`).not.toMatch(/sig=/);
    // An IP address with one path segment names an account, not a container: the error says so.
    const noContainer = await checkFilesContainer(filesContainerClient({ containerUrl: `http://127.0.0.1:${closed}/c?sv=x&sig=y` })).then(() => undefined, (e: unknown) => e as Error);
    expect(noContainer?.message).toMatch(/its URL names none: an IP or localhost address takes http:\/\/HOST:PORT\/ACCOUNT\/CONTAINER/);
  }, 60_000);

  it('a malformed address is a usage error that does not repeat the key', () => {
    let caught: unknown;
    try {
      filesContainerClient({ connectionString: 'AccountName=x;AccountKey=sekrit-key-value', container: 'c' });
    } catch (err) {
      caught = err;
    }
    expect(isEdgeError(caught, 'EDGE_USAGE'), String(caught)).toBe(true);
    expect(String(caught)).not.toContain('sekrit');
    expect(() => filesContainerClient({ containerUrl: 'ftp://x/y' })).toThrow(/container URL cannot be used/);
  });
});
