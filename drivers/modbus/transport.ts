/**
 * The small promise interface every Modbus transport implements (RTU over a serial port,
 * Modbus TCP). The driver, the probe CLI and the conformance suite see only this.
 *
 * Contract:
 * - `open()` resolves once the port/connection is usable and rejects with a `DeviceError`
 *   (`EDGE_DEVICE_UNAVAILABLE`, marker `disconnected`) when it is not. With `reopen` enabled
 *   the transport keeps trying in the background after a failure or a loss, with backoff,
 *   re-resolving the configured path every time (a `/dev/serial/by-id/…` symlink may point
 *   elsewhere after a replug).
 * - `request(unit, pdu, timeoutMs)` sends one request PDU (function code + data) to `unit`
 *   and resolves with the reply PDU. It never resolves with damaged data. It rejects with a
 *   `DeviceError` whose code and marker say what happened: `EDGE_DEVICE_TIMEOUT`/`timeout`
 *   (no reply), `EDGE_DEVICE_CRC`/`crc`, `EDGE_DEVICE_FRAME`/`frame` (partial frame, stray
 *   bytes only, bad MBAP header), `EDGE_DEVICE_EXCEPTION`/`exception {code,name}`,
 *   `EDGE_DEVICE_UNAVAILABLE`/`disconnected` (port closed or connection refused).
 *   Requests may be issued concurrently; an RTU transport serialises them, a TCP transport
 *   pipelines them by transaction id.
 * - `close()` rejects pending requests with `disconnected`, stops reopening, and resolves when
 *   the port/socket is closed. It is idempotent.
 */
export interface ModbusTransport {
  /** Where this transport talks, for messages: `/dev/ttyUSB0` or `10.0.0.5:502`. */
  readonly description: string;
  open(): Promise<void>;
  request(unit: number, pdu: Buffer, timeoutMs: number): Promise<Buffer>;
  close(): Promise<void>;
  stats(): TransportStats;
}

export interface TransportStats {
  /** Whether the port/connection is currently usable. */
  open: boolean;
  requests: number;
  /** Bytes that belonged to no valid reply (noise, late replies, garbage before a frame). */
  strayBytes: number;
  crcErrors: number;
  /** Times the port/connection was re-established after a loss. */
  reopens: number;
  lastError?: { code: string; message: string; at: number };
}

export interface ReopenOptions {
  baseMs: number;
  maxMs: number;
}
