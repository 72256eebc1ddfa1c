import { AnonymousCredential, ContainerClient, type StoragePipelineOptions } from '@azure/storage-blob';
import { EdgeError, errorMessage } from '../../../agent/core/errors.js';

/**
 * The storage container IoT Hub file upload writes to (IoT Hub → File upload in the portal names
 * the storage account and the container), as an Azure user has it at hand: the storage account's
 * connection string and the container's name, or the container's URL with a SAS token that allows
 * list and read (`az storage container generate-sas --permissions lr`).
 */
export type FilesContainerAddress = { connectionString: string; container: string } | { containerUrl: string };

/** A few quick tries, not the SDK's default 4 with exponential waits: a wrong address should say so within seconds. */
const PIPELINE: StoragePipelineOptions = { retryOptions: { maxTries: 3, retryDelayInMs: 200, maxRetryDelayInMs: 2000, tryTimeoutInMs: 30_000 } };

/** The container's client; a malformed address is a usage error (EDGE_USAGE), nothing is contacted yet. */
export function filesContainerClient(address: FilesContainerAddress): ContainerClient {
  try {
    if ('containerUrl' in address) {
      const url = new URL(address.containerUrl);
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`${url.protocol} is not http(s)`);
      return new ContainerClient(address.containerUrl, new AnonymousCredential(), PIPELINE);
    }
    if (address.container.length === 0) throw new Error('the container name is empty');
    return new ContainerClient(address.connectionString, address.container, PIPELINE);
  } catch (cause) {
    const what = 'containerUrl' in address ? 'the backlog files container URL' : 'the backlog files storage connection string';
    // The SDK's message may quote the string, account key included: say what is wrong, not the string.
    throw new EdgeError('EDGE_USAGE', `${what} cannot be used (${'containerUrl' in address ? errorMessage(cause) : 'expected DefaultEndpointsProtocol=…;AccountName=…;AccountKey=…, or BlobEndpoint=…;SharedAccessSignature=…'})`, { cause });
  }
}

/** Lists one blob: the container is there and the credential may list it. Throws what `storageFailure` makes of a refusal. */
export async function checkFilesContainer(container: Pick<ContainerClient, 'listBlobsFlat' | 'containerName'>): Promise<void> {
  try {
    await container.listBlobsFlat().byPage({ maxPageSize: 1 }).next();
  } catch (err) {
    throw storageFailure(err, container.containerName);
  }
}

/**
 * A Blob Storage failure as an EdgeError a user can act on: a refused credential
 * (EDGE_TRANSPORT_UNAUTHORIZED), a container that is not there (EDGE_USAGE), anything else,
 * an unreachable endpoint included (EDGE_TRANSPORT_UNAVAILABLE).
 */
export function storageFailure(err: unknown, containerName: string): EdgeError {
  if (err instanceof EdgeError) return err;
  const status = typeof err === 'object' && err !== null && 'statusCode' in err ? (err as { statusCode?: unknown }).statusCode : undefined;
  const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code?: unknown }).code) : '';
  // The SDK reads an IP or localhost URL as http://HOST:PORT/ACCOUNT/CONTAINER (as Azurite serves it): one path segment names no container.
  const where = containerName && containerName !== 'undefined' ? `backlog files container '${containerName}'` : 'the backlog files container (its URL names none: an IP or localhost address takes http://HOST:PORT/ACCOUNT/CONTAINER)';
  // The service's own words, one line, no SAS: the RequestId stays for a support ticket; the SDK's error is its cause.
  const cause = new Error(serviceWords(err), { cause: err });
  if (status === 401 || status === 403) {
    return new EdgeError('EDGE_TRANSPORT_UNAUTHORIZED', `${where}: the storage account refused the credential (${status} ${code}); check the account key or the SAS (it must allow list and read)`, { cause });
  }
  if (status === 404) return new EdgeError('EDGE_USAGE', `${where} does not exist in that storage account (IoT Hub → File upload names the container)`, { cause });
  // The reason is in the message (the service's log shows messages only); the cause says it again in the same words, so it is printed once.
  const message = `${where} cannot be reached: ${cause.message}`;
  return new EdgeError('EDGE_TRANSPORT_UNAVAILABLE', message, { cause: new Error(message, { cause: err }) });
}

/**
 * The first line of a storage error (the service's message, with its RequestId when it gave one), or
 * for a failed request the reason alone; URLs lose their query, which may hold a SAS signature.
 */
function serviceWords(err: unknown): string {
  const text = errorMessage(err);
  const lines = text.split('\n');
  const request = /^request to \S+ failed, reason: (.*)$/.exec(lines[0]!);
  const first = request ? request[1]! : lines[0]!;
  const id = lines.find((l) => l.startsWith('RequestId:'));
  return `${first}${id && !request ? ` (${id})` : ''}`.replace(/(https?:\/\/[^\s?]+)\?\S*/g, '$1').slice(0, 300);
}
