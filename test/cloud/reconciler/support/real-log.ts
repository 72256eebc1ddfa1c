import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../../../agent/core/clock.js';
import { MessageLog } from '../../../../cloud/iothub/index.js';
import type { Delivery } from './scenario.js';
import type { Telemetry } from './wire-builder.js';

/**
 * The emulator's real on-disk message log (cloud/iothub MessageLog), with enqueued times chosen
 * by the test through a manual clock, so multi-day backlogs take no time.
 */
export interface TestLog {
  dir: string;
  log: MessageLog;
  /** Appends at `enqueuedTime` (never earlier than the last append: the hub's clock only moves on). */
  append(t: Telemetry, enqueuedTime: number): Promise<void>;
  close(): Promise<void>;
}

export async function openTestLog(deliveries: readonly Delivery[] = [], partitionCount = 4): Promise<TestLog> {
  const dir = await mkdtemp(join(tmpdir(), 'reconciler-log-'));
  const clock = new ManualClock(0);
  const log = await MessageLog.open(dir, { clock, partitionCount });
  const append = (t: Telemetry, enqueuedTime: number) => {
    clock.set(Math.max(clock.now(), enqueuedTime));
    return log.append(t).then(() => undefined);
  };
  // Not awaited one by one: the log group-commits whatever is queued, one fsync per round.
  await Promise.all(deliveries.map((d) => append(d.telemetry, d.enqueuedTime)));
  return {
    dir,
    log,
    append,
    close: async () => {
      await log.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
