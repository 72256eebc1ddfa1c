import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isEdgeError } from '../../../agent/core/errors.js';
import type { OutboundMessage, Transport } from '../../../agent/core/transport.js';

/** A Transport with the hub's side under the test's control. */
export interface TransportUnderTest {
  transport: Transport;
  sendTimeoutMs: number;
  /** Whether the hub has stored the message with this id. */
  stored(messageId: string): Promise<boolean>;
  /** The hub stores what comes but withholds the PUBACKs from here on. */
  withholdAcks(): void;
  /** Lets `ms` pass: a ManualClock is moved; real time passes by itself while the test awaits. */
  passTime(ms: number): Promise<void>;
  cleanup(): Promise<void>;
}

let n = 0;
function message(): OutboundMessage {
  const id = `conformance-${process.pid}-${++n}`;
  return { messageId: id, body: Buffer.from(JSON.stringify({ v: 1, device: 'x', boot: 'b', records: [] })), contentType: 'application/json', contentEncoding: 'utf-8', properties: { v: '1', kind: 'reading', seqFrom: String(n), seqTo: String(n), count: '1' } };
}

/**
 * The contract of `Transport` (agent/core/transport.ts), for every implementation: `send`
 * resolves only once the hub has the message, never for one it may not have stored, and
 * rejects with an EdgeError otherwise; `close` is final.
 */
export function transportConformance(name: string, make: () => Promise<TransportUnderTest>): void {
  describe(`Transport conformance: ${name}`, () => {
    let t: TransportUnderTest;
    beforeEach(async () => {
      t = await make();
    });
    afterEach(async () => {
      await t.cleanup();
    });

    it('connects and says so', async () => {
      await t.transport.connect();
      expect(t.transport.status().state).toBe('connected');
      expect(t.transport.status().connectedAt).toEqual(expect.any(Number));
    });

    it('a send resolves once the hub has stored the message', async () => {
      await t.transport.connect();
      const m = message();
      await t.transport.send(m);
      expect(await t.stored(m.messageId)).toBe(true);
    });

    it('a send whose PUBACK never comes does not resolve: it rejects with an EdgeError after the send timeout', async () => {
      await t.transport.connect();
      t.withholdAcks();
      let resolved = false;
      const sending = t.transport.send(message()).then(() => (resolved = true));
      const outcome = sending.then(
        () => 'resolved',
        (err: unknown) => (isEdgeError(err) ? err.code : `not an EdgeError: ${String(err)}`),
      );
      await t.passTime(t.sendTimeoutMs + 1);
      expect(await outcome).toMatch(/^EDGE_TRANSPORT_/);
      expect(resolved).toBe(false);
    });

    it('after close: disconnected, and a send is refused with an EdgeError', async () => {
      await t.transport.connect();
      await t.transport.close();
      expect(t.transport.status().state).toBe('disconnected');
      await expect(t.transport.send(message())).rejects.toSatisfy((err: unknown) => isEdgeError(err));
    });
  });
}
