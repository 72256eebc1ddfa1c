import { EdgeError } from '../../core/errors.js';
import type { DiagnosticsContext } from '../context.js';

/**
 * `edge-agent send-test`: puts one marker reading (source `edge-agent`, point `send-test`)
 * through the whole pipeline, like a sensor's, and waits until the hub has acknowledged
 * everything accepted up to it. The answer says how long that took, or what stands in the way.
 */
export async function sendTest(ctx: DiagnosticsContext, args: Record<string, unknown>): Promise<unknown> {
  const timeoutMs = args.timeoutMs ?? 10_000;
  if (!(typeof timeoutMs === 'number' && timeoutMs > 0 && timeoutMs <= 600_000)) throw new EdgeError('EDGE_USAGE', `timeout must be between 1 ms and 10 min (got ${String(timeoutMs)})`);
  const started = ctx.clock.now();
  const before = ctx.agent.stats();
  await ctx.agent.inject([{ source: 'edge-agent', point: 'send-test', value: started, quality: 'good', receivedAt: started }]);
  const delivered = await ctx.agent.drain(timeoutMs);
  const after = ctx.agent.stats();
  return {
    delivered,
    elapsedMs: ctx.clock.now() - started,
    queuedAhead: before.journalBacklog + before.outboxDepth,
    connection: after.transport,
    messagesAcked: after.forwarder.messagesAcked - before.forwarder.messagesAcked,
    ...(after.forwarder.lastError ? { lastSendError: after.forwarder.lastError } : {}),
  };
}
