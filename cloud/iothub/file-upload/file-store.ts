import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { EdgeError } from '../../../agent/core/errors.js';
import { readJsonFile, syncDirectory, writeFileAtomic } from '../atomic-file.js';

/** One file a device asked to upload: the SAS request, the blob once stored, the device's notification. */
export interface UploadRecord {
  correlationId: string;
  deviceId: string;
  container: string;
  /** As the hub named it: `<deviceId>/<the device's blobName>`. */
  blobName: string;
  requestedAt: number;
  storedAt?: number;
  bytes?: number;
  /** The device's completion notification, as it reported the outcome. */
  notification?: { at: number; isSuccess: boolean; statusCode: number; statusDescription: string };
}

export const CONTAINER = 'uploads';
/** Azure Storage allows 4000 MiB per block; an emulator on a test box takes far less. */
export const MAX_REQUEST_BYTES = 256 * 1024 * 1024;
const MAX_NAME_CHARS = 1024;

/** Why a blob name is refused, or undefined when it is one the store can keep as a file path. */
export function blobNameProblem(name: string): string | undefined {
  if (name.length === 0 || name.length > MAX_NAME_CHARS) return `a blob name has 1..${MAX_NAME_CHARS} characters`;
  if (name.includes('\\') || [...name].some((c) => c.charCodeAt(0) < 0x20)) return 'a blob name has no backslash or control characters';
  if (name.split('/').some((s) => s === '' || s === '.' || s === '..')) return 'a blob name has no empty, "." or ".." segments';
  return undefined;
}

/**
 * The emulator's blob storage on disk (`<dataDir>/files/`): `blobs/<container>/<blob>` for
 * committed blobs (written to a temp file, fsynced, renamed), `staging/` for Put Block bodies
 * until their Put Block List, `uploads.json` for what devices asked for and reported, and `key`,
 * the secret its blob SAS tokens are signed with (kept, so tokens outlive a restart).
 */
export class FileStore {
  private writes: Promise<void> = Promise.resolve();

  private constructor(
    readonly root: string,
    readonly key: Buffer,
    private readonly records: UploadRecord[],
  ) {}

  static async open(dataDir: string): Promise<FileStore> {
    const root = join(dataDir, 'files');
    await mkdir(join(root, 'blobs'), { recursive: true, mode: 0o700 });
    await mkdir(join(root, 'staging'), { recursive: true, mode: 0o700 });
    let key: Buffer;
    try {
      key = await readFile(join(root, 'key'));
    } catch {
      key = randomBytes(32);
      await writeFileAtomic(join(root, 'key'), key);
    }
    return new FileStore(root, key, await readRecords(root));
  }

  /** A device asked to upload `deviceBlobName`: a new correlation id for it. */
  async requestUpload(deviceId: string, deviceBlobName: string, now: number): Promise<UploadRecord> {
    const record: UploadRecord = { correlationId: randomUUID(), deviceId, container: CONTAINER, blobName: `${deviceId}/${deviceBlobName}`, requestedAt: now };
    this.records.push(record);
    await this.persist();
    return record;
  }

  /** Put Blob: the body becomes the whole blob. */
  async putBlob(container: string, blobName: string, body: Readable, now: number): Promise<{ bytes: number }> {
    const tmp = join(this.root, 'staging', `put-${randomUUID()}`);
    const bytes = await writeLimited(body, tmp);
    await this.commitFile(container, blobName, tmp, bytes, now);
    return { bytes };
  }

  /** Put Block: kept apart until a Put Block List names it. */
  async stageBlock(container: string, blobName: string, blockId: string, body: Readable): Promise<{ bytes: number }> {
    const dir = this.stagingDir(container, blobName);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const path = join(dir, blockFileName(blockId));
    const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
    const bytes = await writeLimited(body, tmp);
    await rename(tmp, path);
    return { bytes };
  }

  /**
   * Put Block List: the named staged blocks, in that order, become the blob; staged blocks of
   * the blob are dropped after. @throws EDGE_USAGE naming a block that was never staged.
   */
  async commitBlocks(container: string, blobName: string, blockIds: readonly string[], now: number): Promise<{ bytes: number }> {
    const dir = this.stagingDir(container, blobName);
    const tmp = join(this.root, 'staging', `commit-${randomUUID()}`);
    const out = await open(tmp, 'w', 0o600);
    let bytes = 0;
    try {
      for (const id of blockIds) {
        let data: Buffer;
        try {
          data = await readFile(join(dir, blockFileName(id)));
        } catch (cause) {
          throw new EdgeError('EDGE_USAGE', `block ${id} was never staged for ${container}/${blobName}`, { cause });
        }
        await out.write(data);
        bytes += data.length;
      }
      await out.sync();
    } catch (err) {
      await out.close();
      await rm(tmp, { force: true });
      throw err;
    }
    await out.close();
    await this.commitFile(container, blobName, tmp, bytes, now);
    await rm(dir, { recursive: true, force: true });
    return { bytes };
  }

  /**
   * The device's completion notification. IoT Hub takes the correlation id in the body (REST
   * API) or, as this SDK version sends it, in the path; either names an upload of this device.
   */
  async notify(deviceId: string, correlationId: string, result: { isSuccess: boolean; statusCode: number; statusDescription: string }, now: number): Promise<UploadRecord | undefined> {
    const record = this.records.find((r) => r.correlationId === correlationId && r.deviceId === deviceId);
    if (!record) return undefined;
    record.notification = { at: now, ...result };
    await this.persist();
    return record;
  }

  list(): UploadRecord[] {
    return this.records.map((r) => ({ ...r }));
  }

  blobPath(container: string, blobName: string): string {
    return join(this.root, 'blobs', container, ...blobName.split('/'));
  }

  /** Resolves once every record write so far is on disk. */
  settled(): Promise<void> {
    return this.writes;
  }

  private async commitFile(container: string, blobName: string, tmp: string, bytes: number, now: number): Promise<void> {
    const path = this.blobPath(container, blobName);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await rename(tmp, path);
    await syncDirectory(dirname(path));
    const record = [...this.records].reverse().find((r) => r.container === container && r.blobName === blobName);
    if (record) {
      record.storedAt = now;
      record.bytes = bytes;
      await this.persist();
    }
  }

  private stagingDir(container: string, blobName: string): string {
    return join(this.root, 'staging', createHash('sha256').update(`${container}/${blobName}`).digest('hex'));
  }

  private persist(): Promise<void> {
    const text = JSON.stringify({ uploads: this.records }, null, 1);
    const next = this.writes.then(() => writeFileAtomic(join(this.root, 'uploads.json'), text));
    this.writes = next.catch(() => undefined);
    return next;
  }
}

/** Block ids are base64 of up to 64 bytes; hex of their bytes is a safe file name. */
function blockFileName(blockId: string): string {
  return Buffer.from(blockId, 'base64').toString('hex') || 'empty';
}

async function writeLimited(body: Readable, path: string): Promise<number> {
  let bytes = 0;
  const count = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      if (bytes > MAX_REQUEST_BYTES) done(new EdgeError('EDGE_MESSAGE_TOO_LARGE', `a request body may hold at most ${MAX_REQUEST_BYTES} bytes`));
      else done(null, chunk);
    },
  });
  try {
    await pipeline(body, count, createWriteStream(path, { mode: 0o600, flush: true }));
  } catch (err) {
    await rm(path, { force: true });
    throw err;
  }
  return bytes;
}

async function readRecords(root: string): Promise<UploadRecord[]> {
  const doc = (await readJsonFile(join(root, 'uploads.json'))) as { uploads?: UploadRecord[] } | undefined;
  return Array.isArray(doc?.uploads) ? doc.uploads : [];
}

/** What `edge-agent hub files` reads: the records and blob paths, emulator running or not. */
export async function openFileStoreReader(dataDir: string): Promise<{ list(): UploadRecord[]; blobPath(r: UploadRecord): string }> {
  const root = join(dataDir, 'files');
  const records = await readRecords(root).catch(() => []);
  return {
    list: () => records.filter((r) => r.storedAt !== undefined),
    blobPath: (r) => join(root, 'blobs', r.container, ...r.blobName.split('/')),
  };
}
