import type { DiagnosticsContext } from '../context.js';
import { bufferSummary, type BufferSummary } from './status.js';

/** `edge-agent buffer`: what waits to be sent, per kind, how old, and against the quota. */
export function buffer(ctx: DiagnosticsContext): Promise<BufferSummary & { forwarder: ReturnType<DiagnosticsContext['agent']['stats']>['forwarder']; connection: string; paths?: ReturnType<DiagnosticsContext['agent']['stats']>['paths'] }> {
  const s = ctx.agent.stats();
  return Promise.resolve({ ...bufferSummary(s, ctx.clock.now()), forwarder: s.forwarder, connection: s.transport.state, ...(s.paths ? { paths: s.paths } : {}) });
}
