import { EdgeError } from '../../core/errors.js';
import type { DiagnosticsContext } from '../context.js';

export interface SendTestAnswer {
  delivered: boolean;
  elapsedMs: number;
  timeoutMs: number;
  queuedAhead: number;
  connection: unknown;
  messagesAcked: number;
  /** Sends waiting for their acknowledgement when the answer was made. */
  inFlight: number;
  /**
   * Why it was not delivered: an error raised during this test (a send or connection failure),
   * else the test's own timeout. An older error of another cause is never given as the reason.
   */
  reason?: { code: string; message: string; at: number };
  /** The forwarder's last send error, only when it happened during this test. */
  lastSendError?: { code: string; message: string; at: number };
}

/**
 * `edge-agent send-test`: puts one marker reading (source `edge-agent`, point `send-test`)
 * through the whole pipeline, like a sensor's, and waits until the hub has acknowledged
 * everything accepted up to it. The answer says how long that took, or what stands in the way.
 */
export async function sendTest(ctx: DiagnosticsContext, args: Record<string, unknown>): Promise<SendTestAnswer> {
  const timeoutMs = args.timeoutMs ?? 10_000;
  if (!(typeof timeoutMs === 'number' && timeoutMs > 0 && timeoutMs <= 600_000)) throw new EdgeError('EDGE_USAGE', `timeout must be between 1 ms and 10 min (got ${String(timeoutMs)})`);
  const started = ctx.clock.now();
  const before = ctx.agent.stats();
  await ctx.agent.inject([{ source: 'edge-agent', point: 'send-test', value: started, quality: 'good', receivedAt: started }]);
  const delivered = await ctx.agent.drain(timeoutMs);
  const after = ctx.agent.stats();
  const fresh = (e: { code: string; message: string; at: number } | undefined) => (e && e.at >= started ? e : undefined);
  const sendError = fresh(after.forwarder.lastError);
  const reason = delivered
    ? undefined
    : (sendError ??
      fresh(after.transport.lastError) ?? {
        code: 'EDGE_TRANSPORT_TIMEOUT',
        message:
          after.transport.state === 'connected'
            ? `connected, but the hub acknowledged nothing within ${timeoutMs} ms (${after.forwarder.inFlight} sends waiting for their acknowledgement)`
            : `not connected to the hub within ${timeoutMs} ms (${after.transport.state})`,
        at: ctx.clock.now(),
      });
  return {
    delivered,
    elapsedMs: ctx.clock.now() - started,
    timeoutMs,
    queuedAhead: before.journalBacklog + before.outboxDepth,
    connection: after.transport,
    messagesAcked: after.forwarder.messagesAcked - before.forwarder.messagesAcked,
    inFlight: after.forwarder.inFlight,
    ...(reason ? { reason } : {}),
    ...(sendError ? { lastSendError: sendError } : {}),
  };
}
