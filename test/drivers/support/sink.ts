import { EventEmitter } from 'node:events';
import type { Reading } from '../../../agent/core/reading.js';
import type { ReadingSink } from '../../../agent/core/driver.js';

/** A sink that records every batch and emits `batch` for it, so tests wait on events. */
export class RecordingSink extends EventEmitter {
  readonly batches: Reading[][] = [];
  readonly sink: ReadingSink = async (readings) => {
    this.batches.push(readings);
    this.emit('batch', readings);
  };

  /** Resolves with the first batch (from now on) that passes `test`. */
  next(test: (batch: Reading[]) => boolean = () => true, ms = 10_000): Promise<Reading[]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('batch', on);
        reject(new Error(`no matching batch within ${ms} ms`));
      }, ms);
      const on = (b: Reading[]): void => {
        if (!test(b)) return;
        clearTimeout(timer);
        this.off('batch', on);
        resolve(b);
      };
      this.on('batch', on);
    });
  }
}
