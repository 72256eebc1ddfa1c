import { EdgeError, type EdgeErrorCode } from '../agent/core/errors.js';

/**
 * A device-level failure. Callers branch on `code` (stable `EDGE_DEVICE_*`) or on the marker
 * properties, never on the class or the message (STYLE: markers, not class trees).
 */
export class DeviceError extends EdgeError {
  /** No (complete) reply within the timeout. */
  timeout?: true;
  /** A reply arrived but its CRC was wrong. */
  crc?: true;
  /** The slave answered with a Modbus exception. */
  exception?: { code: number; name: string };
  /** The port or connection is gone (unplugged, closed, refused). */
  disconnected?: true;
  /** Bytes that did not form a frame (stray bytes, partial frames, wrong MBAP header). */
  frame?: true;
  /** Epoch ms before which the transport makes no new connection attempt (reconnect backoff). */
  retryAt?: number;

  constructor(code: EdgeErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'DeviceError';
  }
}

export function timeoutError(message: string, cause?: unknown): DeviceError {
  const err = new DeviceError('EDGE_DEVICE_TIMEOUT', message, { cause });
  err.timeout = true;
  return err;
}

export function crcError(message: string): DeviceError {
  const err = new DeviceError('EDGE_DEVICE_CRC', message);
  err.crc = true;
  return err;
}

export function frameError(message: string): DeviceError {
  const err = new DeviceError('EDGE_DEVICE_FRAME', message);
  err.frame = true;
  return err;
}

export function unavailableError(message: string, cause?: unknown): DeviceError {
  const err = new DeviceError('EDGE_DEVICE_UNAVAILABLE', message, { cause });
  err.disconnected = true;
  return err;
}

export function exceptionError(unit: number, fc: number, code: number, name: string): DeviceError {
  const err = new DeviceError('EDGE_DEVICE_EXCEPTION', `unit ${unit} answered function ${fc} with exception ${code} (${name})`);
  err.exception = { code, name };
  return err;
}

export function configError(message: string, cause?: unknown): EdgeError {
  return new EdgeError('EDGE_CONFIG_INVALID', message, { cause });
}
