import type { Refusals } from '../core/agent-stats.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Reading } from '../core/reading.js';
import type { Journal } from '../journal/journal.js';
import { ReadingGate } from '../journal/reading-gate.js';
import { READING_LIMITS } from '../journal/validate-reading.js';
import { stampReadings } from '../stamp/stamp.js';
import type { AgentStore } from '../store/store.js';
import { isStoreFaultError } from '../store/store-fault.js';

/**
 * The sink every driver writes to: the door (validation), the stamp, the journal. A call
 * resolves once the readings are durable. Readings the journal would refuse are filtered out and
 * counted (the rest of the batch goes on); a batch with nothing valid is rejected with
 * EDGE_READING_INVALID. A full disk or damage refuses the batch (the driver keeps or re-reads
 * it); the store recovery reports that once and heals it.
 */
export class Intake {
  private acceptedCount = 0;
  /** The latest reading per source/point, for `edge-agent sensors` (diagnostics). */
  private readonly latest = new Map<string, Reading>();
  private readonly gate: ReadingGate;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly parts: { journal: Journal; store: AgentStore; clock: Clock; logger: Logger }) {
    this.gate = new ReadingGate(parts.logger.child({ module: 'journal' }));
  }

  async accept(batch: Reading[], driver: string): Promise<void> {
    const readings = this.gate.admit(batch, driver);
    try {
      await this.parts.journal.append(stampReadings(readings, this.parts.clock, Buffer.byteLength(driver) <= READING_LIMITS.nameBytes ? driver : undefined), driver);
    } catch (err) {
      const refusal = this.parts.store.notice(err);
      throw isStoreFaultError(refusal) ? refusal : err;
    }
    this.acceptedCount += readings.length;
    for (const r of readings) this.latest.set(`${r.source}\u0000${r.point}`, r);
    for (const l of this.listeners) l();
  }

  /** Calls `listener` after every accepted batch; returns the unsubscribe. */
  onAccepted(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Readings accepted (durable in the journal) since start. */
  get accepted(): number {
    return this.acceptedCount;
  }

  latestReadings(): Reading[] {
    return [...this.latest.values()];
  }

  /** What the door refused of one driver's readings. */
  refusals(driver: string): Refusals {
    return this.gate.of(driver);
  }
}
