import { readFile } from 'node:fs/promises';
import type { ContainerClient } from '@azure/storage-blob';
import { openFileStoreReader, type UploadRecord } from '../../iothub/index.js';
import type { BacklogFileLister, StoredBacklogFile } from './backlog-files-source.js';

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

/**
 * The hub's file-upload container in Azure Blob Storage, through @azure/storage-blob's
 * `ContainerClient` (e.g. `new ContainerClient(url, credential)`): blobs under `prefix` in the
 * order they were created (creation time, then name). A blob appears once its upload committed,
 * which is before the device's completion notification; a file uploaded but not notified is read
 * too, and counted once like any record sent twice.
 */
export function azureContainerLister(container: Pick<ContainerClient, 'listBlobsFlat' | 'getBlobClient'>, prefix = ''): BacklogFileLister {
  return {
    list: async () => {
      const found: Array<{ name: string; created: number }> = [];
      for await (const blob of container.listBlobsFlat({ prefix })) {
        found.push({ name: blob.name, created: (blob.properties.createdOn ?? blob.properties.lastModified).getTime() });
      }
      found.sort((a, b) => a.created - b.created || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      return found.map((b) => ({ blobName: b.name, storedAt: b.created, read: () => container.getBlobClient(b.name).downloadToBuffer() }));
    },
  };
}
