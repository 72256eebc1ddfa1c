import type { Clock, TimerHandle } from '../../agent/core/clock.js';
import { EdgeError } from '../../agent/core/errors.js';
import { Signal } from '../../agent/core/signal.js';
import type { OutboundMessage, Transport, TransportStatus } from '../../agent/core/transport.js';

/** What the fake hub does with one send. */
export type FakeSend =
  | { kind: 'ack'; delayMs?: number }
  | { kind: 'fail'; code?: 'EDGE_TRANSPORT_UNAVAILABLE' | 'EDGE_MESSAGE_TOO_LARGE'; message?: string }
  /** No PUBACK: the send is given up after `sendTimeoutMs` (as the real supervisor does). */
  | { kind: 'hang' };

/**
 * A MOCK of the hub, named as such: a scriptable `Transport` for the forwarder's unit tests, where
 * a real broker cannot hold a PUBACK to the millisecond or fail one chosen send. Time is the given
 * `Clock` (a ManualClock in tests), so PUBACK delays and send timeouts fire when the test moves it.
 * The same Transport conformance suite runs against it and against the real supervisor.
 */
export class FakeHubTransport implements Transport {
  /** Every message offered, in order, whatever became of it. */
  readonly offered: OutboundMessage[] = [];
  /** Messages acknowledged (what the hub has stored). */
  readonly acked: OutboundMessage[] = [];
  /** Fires at every send offered. */
  readonly arrivals = new Signal();
  private readonly script: FakeSend[] = [];
  private state: TransportStatus = { state: 'disconnected' };
  private readonly pending = new Map<TimerHandle, () => void>();
  private closed = false;

  constructor(
    private readonly clock: Clock,
    private readonly options: { sendTimeoutMs: number; otherwise?: FakeSend } = { sendTimeoutMs: 5000 },
  ) {}

  /** What the next sends meet, in order; after them, `otherwise` (an immediate ack by default). */
  next(...sends: FakeSend[]): void {
    this.script.push(...sends);
  }

  async connect(): Promise<void> {
    if (this.closed) throw new EdgeError('EDGE_TRANSPORT_UNAVAILABLE', 'the fake hub transport is closed');
    this.state = { state: 'connected', connectedAt: this.clock.now() };
  }

  send(message: OutboundMessage): Promise<void> {
    this.offered.push(message);
    this.arrivals.notify();
    if (this.closed || this.state.state !== 'connected') return Promise.reject(new EdgeError('EDGE_TRANSPORT_UNAVAILABLE', 'not connected'));
    const behaviour = this.script.shift() ?? this.options.otherwise ?? { kind: 'ack' };
    if (behaviour.kind === 'fail') return Promise.reject(new EdgeError(behaviour.code ?? 'EDGE_TRANSPORT_UNAVAILABLE', behaviour.message ?? 'the fake hub failed this send'));
    if (behaviour.kind === 'ack' && !behaviour.delayMs) {
      this.acked.push(message);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const ms = behaviour.kind === 'ack' ? (behaviour.delayMs ?? 0) : this.options.sendTimeoutMs;
      const settle = () => {
        this.pending.delete(timer);
        if (behaviour.kind === 'ack') {
          this.acked.push(message);
          resolve();
        } else reject(new EdgeError('EDGE_TRANSPORT_TIMEOUT', `no PUBACK within ${this.options.sendTimeoutMs} ms`));
      };
      const timer = this.clock.setTimeout(settle, ms);
      this.pending.set(timer, () => {
        this.clock.clearTimeout(timer);
        reject(new EdgeError('EDGE_TRANSPORT_UNAVAILABLE', 'the transport was closed'));
      });
    });
  }

  /** Sends waiting for their PUBACK (or their timeout). */
  get inFlight(): number {
    return this.pending.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.state = { state: 'disconnected' };
    for (const [timer, abort] of this.pending) {
      this.pending.delete(timer);
      abort();
    }
  }

  status(): TransportStatus {
    return { ...this.state };
  }
}
