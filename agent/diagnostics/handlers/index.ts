import type { DiagnosticsContext } from '../context.js';
import { buffer } from './buffer.js';
import { config } from './config.js';
import { logLevel } from './log-level.js';
import { logs } from './logs.js';
import { sendTest } from './send-test.js';
import { sensors } from './sensors.js';
import { status } from './status.js';
import { twin } from './twin.js';

export interface Stream {
  /** Sends one `event` line (streaming commands). */
  emit(event: unknown): void;
  /** Resolves when the client hangs up. */
  closed: Promise<void>;
}

/** One diagnostics command: reads the context, returns the reply's `result`. */
export type Handler = (ctx: DiagnosticsContext, args: Record<string, unknown>, stream: Stream) => Promise<unknown>;

export const handlers: Record<string, Handler> = {
  status,
  sensors,
  buffer,
  config,
  twin,
  logs,
  'log-level': logLevel,
  'send-test': sendTest,
};
