import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { HubLink } from '../transport/hub-link.js';
import type { MethodHandler, MethodResult } from './handlers.js';

/**
 * Registers the handlers on every fresh client the supervisor connects (each reconnect builds a
 * new client, and the SDK subscribes per client). A call counts as a sign of life for the
 * liveness check. A handler failure still answers (500), so the caller never waits out its timeout.
 */
export function bindMethods(supervisor: HubLink, handlers: Record<string, MethodHandler>, logger: Logger): void {
  supervisor.onConnected((client) => {
    for (const [name, handler] of Object.entries(handlers)) {
      client.onDeviceMethod(name, (request, response) => {
        supervisor.heard();
        logger.info({ method: name }, 'direct method called');
        handler(request.payload as unknown)
          .catch((err: unknown) => ({ status: 500, payload: { error: { code: 'EDGE_INTERNAL', message: errorMessage(err) } } }))
          .then(async (result: MethodResult) => {
            try {
              await response.send(result.status, result.payload);
            } finally {
              result.after?.();
            }
          })
          .catch((err: unknown) => logger.warn({ method: name, err: errorMessage(err) }, 'direct method answer not sent'));
      });
    }
  });
}
