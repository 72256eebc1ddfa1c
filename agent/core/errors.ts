/**
 * Stable error codes. A code never changes meaning once released; messages may be reworded.
 * Callers branch on `code`, people read `message`, and `cause` keeps the original failure.
 */
export type EdgeErrorCode =
  | 'EDGE_CONFIG_INVALID'
  | 'EDGE_CONFIG_NOT_FOUND'
  | 'EDGE_DATA_DIR_UNUSABLE'
  | 'EDGE_STORE_CORRUPT'
  | 'EDGE_STORE_DAMAGED'
  | 'EDGE_STORE_UNAVAILABLE'
  | 'EDGE_STORE_LOCKED'
  | 'EDGE_BUFFER_FULL'
  | 'EDGE_DISK_FULL'
  | 'EDGE_DEVICE_TIMEOUT'
  | 'EDGE_DEVICE_CRC'
  | 'EDGE_DEVICE_EXCEPTION'
  | 'EDGE_DEVICE_FRAME'
  | 'EDGE_DEVICE_UNAVAILABLE'
  | 'EDGE_READING_INVALID'
  | 'EDGE_PORT_IN_USE'
  | 'EDGE_TRANSPORT_UNAUTHORIZED'
  | 'EDGE_TRANSPORT_UNAVAILABLE'
  | 'EDGE_TRANSPORT_TIMEOUT'
  | 'EDGE_MESSAGE_TOO_LARGE'
  | 'EDGE_HUB_DEVICE_UNKNOWN'
  | 'EDGE_HUB_DEVICE_OFFLINE'
  | 'EDGE_HUB_METHOD_TIMEOUT'
  | 'EDGE_QUERY_SYNTAX'
  | 'EDGE_QUERY_UNSUPPORTED'
  | 'EDGE_QUERY_STATE_LIMIT'
  | 'EDGE_AGENT_NOT_RUNNING'
  | 'EDGE_DIAGNOSTICS_DENIED'
  | 'EDGE_USAGE'
  | 'EDGE_QUERY_RESERVED_NAME'
  | 'EDGE_WRITE_REFUSED'
  | 'EDGE_WRITE_UNVERIFIED'
  | 'EDGE_FILE_UPLOAD_FAILED'
  | 'EDGE_PROVISIONING_REFUSED'
  | 'EDGE_PROVISIONING_UNAVAILABLE';

export class EdgeError extends Error {
  readonly code: EdgeErrorCode;

  constructor(code: EdgeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EdgeError';
    this.code = code;
  }
}

export function isEdgeError(err: unknown, code?: EdgeErrorCode): err is EdgeError {
  return err instanceof EdgeError && (code === undefined || err.code === code);
}

/** Node system errors carry a string `code` (ENOENT, EADDRINUSE, …). */
export function systemErrorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

export function errorMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err.message !== '') return err.message;
  // Some errors say nothing themselves (an AggregateError of failed connection attempts, an SDK's
  // wrapper): what they carry is the reason, or at least their code.
  if (err instanceof AggregateError && err.errors.length > 0) return [...new Set(err.errors.map(errorMessage))].join('; ');
  const code = (err as { code?: unknown }).code;
  if (err.cause !== undefined) return errorMessage(err.cause);
  return typeof code === 'string' && code !== '' ? code : err.name;
}
