import { errorMessage, isEdgeError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { DeviceClient, HubLink } from '../transport/hub-link.js';
import { bindMethods } from './bind-methods.js';
import type { MethodHandler, MethodResult } from './handlers.js';

/** A file made for the cloud, before upload. */
export interface SupportFile {
  name: string;
  data: Buffer;
  contents: Record<string, unknown>;
}

export interface SupportMethodDeps {
  /** Builds the bundle; the payload's `{since, level, module}` narrow its logs. @throws EDGE_USAGE for a bad payload */
  supportBundle: (payload: unknown) => Promise<SupportFile>;
  /** Builds the filtered logs file. @throws EDGE_USAGE for a bad payload */
  logs: (payload: unknown) => Promise<SupportFile>;
  /** Uploads through IoT Hub file upload; resolves once the hub acknowledged the notification. */
  upload: (name: string, data: Buffer) => Promise<{ blobName: string; bytes: number; ms: number }>;
}

/**
 * `uploadSupportBundle` and `uploadLogs` (IoT Edge's names): build the file, send it through
 * IoT Hub file upload, answer with the blob's name once the hub has it. A bad payload is a 400,
 * no link 503, a slow upload 504 (before the caller's own method timeout), any other failure
 * 500 with its `EDGE_*` code.
 */
export function supportMethodHandlers(deps: SupportMethodDeps): Record<string, MethodHandler> {
  const send = async (build: () => Promise<SupportFile>): Promise<MethodResult> => {
    try {
      const file = await build();
      const uploaded = await deps.upload(file.name, file.data);
      return { status: 200, payload: { ...uploaded, ...file.contents } };
    } catch (err) {
      const status = isEdgeError(err, 'EDGE_USAGE') ? 400 : isEdgeError(err, 'EDGE_TRANSPORT_UNAVAILABLE') ? 503 : isEdgeError(err, 'EDGE_TRANSPORT_TIMEOUT') ? 504 : 500;
      return { status, payload: { error: { code: isEdgeError(err) ? err.code : 'EDGE_INTERNAL', message: errorMessage(err) } } };
    }
  };
  return {
    uploadSupportBundle: (payload) => send(() => deps.supportBundle(payload)),
    uploadLogs: (payload) => send(() => deps.logs(payload)),
  };
}

/**
 * Registers handlers after the link may already be up (the CLI adds these once diagnostics
 * exist): on every future client, and on the one connected now if there is one.
 */
export function bindMethodsNowAndLater(link: HubLink, handlers: Record<string, MethodHandler>, logger: Logger): void {
  const bound = new WeakSet<DeviceClient>();
  const once: HubLink = {
    onConnected: (listener) => {
      const call = (client: DeviceClient, generation: number): void => {
        if (bound.has(client)) return;
        bound.add(client);
        listener(client, generation);
      };
      link.onConnected(call);
      const current = link.connectedClient;
      if (current) call(current, 0);
    },
    onStatus: (l) => link.onStatus(l),
    get connectedClient() {
      return link.connectedClient;
    },
    heard: () => link.heard(),
    useLivenessProbe: (p) => link.useLivenessProbe(p),
  };
  bindMethods(once, handlers, logger);
}
