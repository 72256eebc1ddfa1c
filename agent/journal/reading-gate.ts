import type { Logger } from '../core/logger.js';
import type { Reading } from '../core/reading.js';
import type { Refusals } from '../core/agent-stats.js';
import { invalidReading, readingProblem } from './validate-reading.js';


/**
 * The door in front of the journal. A driver's batch is split into the readings the journal
 * takes and those it would refuse: the good ones go on, the bad ones are counted per driver and
 * reason, and each (driver, reason) is logged once, not once per reading (a buggy driver
 * repeats its mistake every poll). Nothing refused is ever retried, so nothing loops.
 */
export class ReadingGate {
  private readonly refusals = new Map<string, Refusals>();
  private readonly logged = new Set<string>();

  constructor(private readonly logger: Logger) {}

  /**
   * The readings the journal will take, in their order. Throws EDGE_READING_INVALID, naming
   * the driver and the first bad point, only when the batch had readings and none was valid:
   * the sink call is then refused like any other, and the driver's own counters show it.
   */
  admit<R extends Reading>(readings: R[], driver: string): R[] {
    let kept: R[] | undefined;
    let first: { reading: R; problem: string } | undefined;
    let refused = 0;
    for (let i = 0; i < readings.length; i++) {
      const reading = readings[i]!;
      const problem = readingProblem(reading);
      if (problem === undefined) {
        kept?.push(reading);
        continue;
      }
      kept ??= readings.slice(0, i);
      first ??= { reading, problem };
      refused++;
      this.count(driver, reading, problem);
    }
    if (kept === undefined) return readings;
    if (kept.length === 0) throw invalidReading(driver, first!.reading, first!.problem, refused);
    return kept;
  }

  /** What was refused from `driver` so far. */
  of(driver: string): Refusals {
    const r = this.refusals.get(driver);
    return r ? { rejected: r.rejected, rejectedByReason: { ...r.rejectedByReason } } : { rejected: 0, rejectedByReason: {} };
  }

  private count(driver: string, reading: Reading, problem: string): void {
    let r = this.refusals.get(driver);
    if (!r) this.refusals.set(driver, (r = { rejected: 0, rejectedByReason: {} }));
    r.rejected++;
    r.rejectedByReason[problem] = (r.rejectedByReason[problem] ?? 0) + 1;
    const key = `${driver}\u0000${problem}`;
    if (this.logged.has(key)) return;
    this.logged.add(key);
    const err = invalidReading(driver, reading, problem);
    this.logger.warn({ code: err.code, driver, reason: problem }, `${err.message}; further readings refused for this reason are counted, not logged`);
  }
}
