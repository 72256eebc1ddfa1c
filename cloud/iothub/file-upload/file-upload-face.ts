import { createServer, type Server as HttpServer } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Clock } from '../../../agent/core/clock.js';
import type { Logger } from '../../../agent/core/logger.js';
import type { DeviceRegistry } from '../device-registry.js';
import { startBlobEndpoint, type BlobEndpoint } from './blob-endpoint.js';
import { FileStore, type UploadRecord } from './file-store.js';
import { hubFilesHandler } from './hub-files.js';

export interface FileUploadOptions {
  dataDir: string;
  registry: DeviceRegistry;
  clock: Clock;
  log: Logger;
  certPem: string;
  keyPem: string;
  listenHost: string;
  hostNames: () => readonly string[];
  onNotified: (record: UploadRecord) => void;
  unavailable: () => boolean;
  /** How long a blob SAS is valid (default 1 hour, IoT Hub's default). */
  sasTtlMs?: number;
}

/**
 * IoT Hub file upload end to end: the hub's HTTPS endpoints (served on the hub's own TLS port,
 * see first-byte-router.ts), a blob endpoint on a port of its own, and the file store on disk.
 */
export class FileUploadFace {
  private constructor(
    private readonly store: FileStore,
    private readonly http: HttpServer,
    private readonly blobs: BlobEndpoint,
  ) {}

  static async start(o: FileUploadOptions): Promise<FileUploadFace> {
    const store = await FileStore.open(o.dataDir);
    const log = o.log.child({ face: 'file-upload' });
    const blobs = await startBlobEndpoint({ store, clock: o.clock, log, certPem: o.certPem, keyPem: o.keyPem }, o.listenHost);
    // The certificate names localhost, 127.0.0.1 and ::1.
    const blobHost = `${o.listenHost === '127.0.0.1' ? '127.0.0.1' : 'localhost'}:${blobs.port}`;
    const http = createServer(
      hubFilesHandler({ registry: o.registry, store, clock: o.clock, log, hostNames: o.hostNames, blobHost: () => blobHost, sasTtlMs: o.sasTtlMs ?? 3_600_000, onNotified: o.onNotified, unavailable: o.unavailable }),
    );
    return new FileUploadFace(store, http, blobs);
  }

  /** A device's TLS link that speaks HTTP: IoT Hub's REST face. */
  handleSocket(socket: TLSSocket): void {
    this.http.emit('connection', socket);
  }

  get blobPort(): number {
    return this.blobs.port;
  }

  /** Every upload devices asked for, stored or not, notified or not. */
  list(): UploadRecord[] {
    return this.store.list();
  }

  /** Where the blob of an upload is on disk. */
  blobPath(record: UploadRecord): string {
    return this.store.blobPath(record.container, record.blobName);
  }

  async close(): Promise<void> {
    this.http.close();
    await this.blobs.close();
    await this.store.settled();
  }
}
