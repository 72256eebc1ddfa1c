import rhea, { type Sender } from 'rhea';
import type { Logger } from '../../../agent/core/logger.js';
import type { HubEvent, MessageLogReader } from '../hub-event.js';
import { toAmqpMessage } from './event-message.js';

/** Events read from the log per round; a round never sends more than the link's credit. */
const READ_BATCH = 128;

/**
 * One receiver link on one partition: sends the log's events from `next` on, only while the
 * client has given credit (AMQP flow control is the back-pressure), and when caught up waits
 * for `wake()` (the emulator calls it when the partition grows) instead of polling.
 */
export class PartitionStream {
  private pending: HubEvent[] = [];
  private running = false;
  private again = false;
  private closed = false;

  constructor(
    readonly link: Sender,
    readonly partition: number,
    /** `com.microsoft:epoch` of the link, when the client asked for an exclusive (epoch) receiver. */
    readonly epoch: number | undefined,
    private next: number,
    private readonly log: MessageLogReader,
    private readonly logger: Logger,
    /**
     * Set when the client asked for `com.microsoft:enable-receiver-runtime-metric`: each delivery
     * then carries the partition's last enqueued event (what the SDK's
     * trackLastEnqueuedEventProperties reports), read once per batch, with this clock's time.
     */
    private readonly runtimeMetric?: { now: () => number },
  ) {}

  /** Sends what the credit allows; safe to call any time (credit arrived, the log grew). */
  wake(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.pump()
      .catch((err: unknown) => {
        this.logger.error({ err, partition: this.partition }, 'AMQP partition stream failed; detaching the link');
        this.stop({ condition: 'amqp:internal-error', description: 'reading the message log failed' });
      })
      .finally(() => {
        this.running = false;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  /** Stops sending; with an error, detaches the link with it (the client sees the condition). */
  stop(error?: { condition: string; description: string }): void {
    if (this.closed) return;
    this.closed = true;
    this.pending = [];
    if (error && this.link.is_open()) this.link.close(error);
  }

  private last: HubEvent | undefined;

  private async lastEnqueued(): Promise<HubEvent | undefined> {
    const end = await this.log.endOf(this.partition);
    return end > 0 ? (await this.log.read(this.partition, end - 1, 1))[0] : undefined;
  }

  private async pump(): Promise<void> {
    do {
      this.again = false;
      while (!this.closed && this.link.sendable()) {
        if (this.pending.length === 0) {
          this.pending = await this.log.read(this.partition, this.next, READ_BATCH);
          if (this.pending.length === 0 || this.closed) break;
          if (this.runtimeMetric) this.last = await this.lastEnqueued();
        }
        const e = this.pending.shift()!;
        const message = toAmqpMessage(e);
        if (this.runtimeMetric && this.last) {
          message.delivery_annotations = {
            last_enqueued_sequence_number: rhea.types.wrap_long(this.last.sequenceNumber),
            last_enqueued_offset: String(this.last.offset),
            last_enqueued_time_utc: new Date(this.last.enqueuedTime),
            runtime_info_retrieval_time_utc: new Date(this.runtimeMetric.now()),
          };
        }
        this.link.send(message);
        this.next = e.sequenceNumber + 1;
      }
    } while (this.again && !this.closed);
  }
}
