import type { DiagnosticsContext } from '../context.js';

export interface Stream {
  /** Sends one `event` line (streaming commands). */
  emit(event: unknown): void;
  /** Resolves when the client hangs up. */
  closed: Promise<void>;
}

/** One diagnostics command: reads the context, returns the reply's `result`. */
export type Handler = (ctx: DiagnosticsContext, args: Record<string, unknown>, stream: Stream) => Promise<unknown>;
