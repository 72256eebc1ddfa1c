import { readFile } from 'node:fs/promises';
import type { ContainerClient } from '@azure/storage-blob';
import { openFileStoreReader, type UploadRecord } from '../../iothub/index.js';
import type { BacklogFileLister, StoredBacklogFile } from './backlog-files-source.js';
import { storageFailure } from './azure-files-container.js';

/**
 * Upload records (the emulator's `uploads.json`) in the order their completion was accepted: a
 * device's file counts from its notification on, as on IoT Hub, and a later notification never
 * sorts before an earlier one.
 */
function fromUploadRecords(records: ReadonlyArray<UploadRecord & { path?: string }>): StoredBacklogFile[] {
  return records
    .map((r, i) => ({ r, i }))
    .filter(({ r }) => r.notification?.isSuccess === true && r.path !== undefined)
    .sort((a, b) => a.r.notification!.at - b.r.notification!.at || a.i - b.i)
    .map(({ r }) => ({ blobName: r.blobName, storedAt: r.storedAt ?? r.notification!.at, read: () => readFile(r.path!) }));
}

/** The running emulator in this process (`hub.fileUploads()`). */
export function emulatorFileLister(hub: { fileUploads(): Array<UploadRecord & { path?: string }> }): BacklogFileLister {
  return { list: async () => fromUploadRecords(hub.fileUploads()) };
}

/** An emulator data dir, emulator running or not (read afresh on every list). */
export function dataDirFileLister(dataDir: string): BacklogFileLister {
  return {
    list: async () => {
      const reader = await openFileStoreReader(dataDir);
      return fromUploadRecords(reader.list().map((r) => ({ ...r, path: reader.blobPath(r) })));
    },
  };
}

export interface AzureContainerListerOptions {
  /** Only blobs under this name prefix (default: the whole container; other blobs are passed over by name). */
  prefix?: string;
  /**
   * A blob is listed once it is this old by the service's clock (default 5 s). Blob creation times
   * have a resolution of one second: a blob created later within the same second as a listed one
   * could sort before it (by name) and shift every ordinal after it, and a file would be passed over.
   */
  settleMs?: number;
}

export const DEFAULT_SETTLE_MS = 5000;

/**
 * The hub's file-upload container in Azure Blob Storage, through @azure/storage-blob's
 * `ContainerClient` (e.g. `filesContainerClient` in ./azure-files-container.ts): blobs under
 * `prefix` in the order they were created (creation time, then name), each once it has settled. A
 * blob appears once its upload committed, which is before the device's completion notification; a
 * file uploaded but not notified is read too, and counted once like any record sent twice. A
 * refusal (credential, missing container, unreachable endpoint) comes out as an EdgeError.
 */
export function azureContainerLister(container: Pick<ContainerClient, 'listBlobsFlat' | 'getBlobClient' | 'containerName'>, options: AzureContainerListerOptions = {}): BacklogFileLister {
  const settleMs = options.settleMs ?? DEFAULT_SETTLE_MS;
  return {
    list: async () => {
      const found: Array<{ name: string; created: number }> = [];
      let serviceNow: number | undefined;
      try {
        for await (const page of container.listBlobsFlat(options.prefix ? { prefix: options.prefix } : {}).byPage()) {
          // The first page's date: every blob committed after it was created after it too.
          serviceNow ??= page.date?.getTime() ?? Date.now();
          for (const blob of page.segment.blobItems) found.push({ name: blob.name, created: (blob.properties.createdOn ?? blob.properties.lastModified).getTime() });
        }
      } catch (err) {
        throw storageFailure(err, container.containerName);
      }
      const settled = found.filter((b) => serviceNow === undefined || b.created <= serviceNow - settleMs);
      settled.sort((a, b) => a.created - b.created || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      return settled.map((b) => ({
        blobName: b.name,
        storedAt: b.created,
        read: async () => {
          try {
            return await container.getBlobClient(b.name).downloadToBuffer();
          } catch (err) {
            throw storageFailure(err, container.containerName);
          }
        },
      }));
    },
  };
}
