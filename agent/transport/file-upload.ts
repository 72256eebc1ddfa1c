import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';
import type { Clock } from '../core/clock.js';
import { EdgeError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { DeviceClient, HubLink } from './hub-link.js';

/** A file the hub has acknowledged (its completion notification was accepted). */
export interface UploadedFile {
  /** The blob's name in the hub's storage container: `<deviceId>/<name asked for>`, as IoT Hub names it. */
  blobName: string;
  bytes: number;
  ms: number;
}

/** What support bundles (and later backlog files) need of the hub: one upload, acknowledged or failed. */
export interface FileUploader {
  /** @throws EDGE_TRANSPORT_UNAVAILABLE offline, EDGE_TRANSPORT_TIMEOUT, EDGE_FILE_UPLOAD_FAILED with the SDK's error as cause. */
  upload(name: string, data: Buffer): Promise<UploadedFile>;
}

export interface HubFileUploadOptions {
  link: HubLink;
  deviceId: string;
  /** PEM of a CA to trust besides the system's (`hub.caFile`): the hub's and the storage's. */
  ca?: string;
  timeoutMs: number;
  clock: Clock;
  logger: Logger;
}

/**
 * IoT Hub file upload through the SDK's own `uploadToBlob`: it asks the hub for a blob SAS
 * (`POST /devices/{id}/files`), writes the blob with @azure/storage-blob, then notifies the hub
 * of the outcome; resolving means all three went through.
 *
 * Two things the SDK does not let a caller set are arranged here. Its HTTPS requests go to the
 * connection string's `HostName` as a bare host (IoT Hub's REST face is always on 443), so a
 * `HostName` with a port (the local emulator) needs an agent that honours the port. And its
 * blob client builds its HTTP pipeline on Node's default agent with no CA option, so a
 * configured CA is added to that agent's trust (beside the system roots, as NODE_EXTRA_CA_CERTS
 * would at start-up).
 */
export class HubFileUpload implements FileUploader {
  private readonly prepared = new WeakSet<DeviceClient>();
  private readonly agent: https.Agent;

  constructor(private readonly o: HubFileUploadOptions) {
    this.agent = new HostPortAgent({ keepAlive: false });
    if (o.ca) trustForBlobStorage(o.ca);
  }

  async upload(name: string, data: Buffer): Promise<UploadedFile> {
    if (data.length === 0) throw new TypeError('an upload needs at least one byte');
    const client = this.o.link.connectedClient;
    if (!client) throw new EdgeError('EDGE_TRANSPORT_UNAVAILABLE', 'not connected to IoT Hub; the file was not uploaded');
    const t0 = this.o.clock.now();
    const log = this.o.logger.child({ blob: name, bytes: data.length });
    await this.prepare(client);
    log.info('file upload started');
    try {
      await this.withTimeout(client.uploadToBlob(name, Readable.from([data]), data.length));
    } catch (err) {
      if (err instanceof EdgeError) throw err;
      log.warn({ err: describeSdkError(err) }, 'file upload failed');
      throw new EdgeError('EDGE_FILE_UPLOAD_FAILED', `uploading ${name} failed: ${describeSdkError(err)}`, { cause: err });
    }
    this.o.link.heard();
    const done = { blobName: `${this.o.deviceId}/${name}`, bytes: data.length, ms: this.o.clock.now() - t0 };
    log.info({ ms: done.ms }, 'file uploaded');
    return done;
  }

  /** Each fresh client gets the HTTP options once (the supervisor builds one per connection). */
  private async prepare(client: DeviceClient): Promise<void> {
    if (this.prepared.has(client)) return;
    // MQTT keeps the options of its open link; these reach the SDK's file-upload HTTP calls.
    await client.setOptions({ ...(this.o.ca ? { ca: this.o.ca } : {}), http: { agent: this.agent } });
    this.prepared.add(client);
  }

  private withTimeout<T>(p: Promise<T>): Promise<T> {
    const { clock, timeoutMs } = this.o;
    return new Promise<T>((resolve, reject) => {
      const timer = clock.setTimeout(() => reject(new EdgeError('EDGE_TRANSPORT_TIMEOUT', `the file upload did not finish within ${timeoutMs} ms`)), timeoutMs);
      p.then(
        (v) => {
          clock.clearTimeout(timer);
          resolve(v);
        },
        (err: unknown) => {
          clock.clearTimeout(timer);
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }
}

/** The SDK wraps the storage or hub failure in `innerError`; both messages say what happened. */
function describeSdkError(err: unknown): string {
  const inner = (err as { innerError?: unknown } | undefined)?.innerError;
  return inner ? `${errorMessage(err)} (${errorMessage(inner)})` : errorMessage(err);
}

/** An https.Agent that connects to the port a `host:port` host name carries, with SNI for the host alone. */
export class HostPortAgent extends https.Agent {
  override createConnection(options: https.RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    const m = typeof options.host === 'string' ? /^([^:[\]]+):(\d+)$/.exec(options.host) : null;
    const fixed = m ? { ...options, host: m[1]!, port: Number(m[2]), servername: m[1]! } : options;
    return super.createConnection(fixed, callback);
  }
}

const extraCas = new Set<string>();

/** Adds `ca` to what Node's default HTTPS agent trusts, keeping the system roots and NODE_EXTRA_CA_CERTS. */
export function trustForBlobStorage(ca: string): void {
  if (extraCas.has(ca)) return;
  extraCas.add(ca);
  const fromEnv = process.env.NODE_EXTRA_CA_CERTS ? readQuietly(process.env.NODE_EXTRA_CA_CERTS) : undefined;
  https.globalAgent.options.ca = [...rootCertificates, ...(fromEnv ? [fromEnv] : []), ...extraCas];
}

function readQuietly(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
