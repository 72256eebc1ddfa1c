import { EdgeError, errorMessage } from '../core/errors.js';

/**
 * Tells "wrong credentials" from "hub unavailable" as honestly as the SDK allows. The SDK wraps
 * every failed *first* CONNECT as `mqtt.js returned Failure on first connection (Not authorized): <cause> error`, even a
 * CONNACK 3 (server unavailable) or a reset socket; the real cause survives only in the text
 * after the colon, so that part alone is read. CONNACK 4/5 (bad username or password, not
 * authorized) and 2 (identifier rejected) are credentials; anything else is the hub or the network.
 */
const SDK_PREFIX = /^(mqtt\.js returned )?Failure on first connection \(Not authorized\):\s*|\s+error$/g;
const CREDENTIAL_REFUSALS = /Not authorized|Bad username or password|Identifier rejected|Connection refused: (4|5)\b/i;

export type ConnectFailure = 'unauthorized' | 'unavailable' | 'timeout';

export function classifyConnectError(err: unknown): ConnectFailure {
  if (err instanceof EdgeError) {
    if (err.code === 'EDGE_TRANSPORT_UNAUTHORIZED') return 'unauthorized';
    if (err.code === 'EDGE_TRANSPORT_TIMEOUT') return 'timeout';
    return 'unavailable';
  }
  const cause = errorMessage(err).replace(SDK_PREFIX, '');
  return CREDENTIAL_REFUSALS.test(cause) ? 'unauthorized' : 'unavailable';
}

/** The stable-coded error a technician reads in status and logs. */
export function connectError(err: unknown): EdgeError {
  if (err instanceof EdgeError) return err;
  const cause = errorMessage(err).replace(SDK_PREFIX, '');
  if (classifyConnectError(err) === 'unauthorized') {
    return new EdgeError(
      'EDGE_TRANSPORT_UNAUTHORIZED',
      `IoT Hub refused this device’s credentials (wrong key, expired token, unknown device or certificate): ${cause}; readings stay in the buffer`,
      { cause: err },
    );
  }
  return new EdgeError('EDGE_TRANSPORT_UNAVAILABLE', `IoT Hub is unavailable or unreachable: ${cause}; readings stay in the buffer`, { cause: err });
}
