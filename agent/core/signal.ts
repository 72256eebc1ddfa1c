import type { Clock, TimerHandle } from './clock.js';

/**
 * A level-triggered wake-up for loops that sleep until there is work. A `notify()` with nobody
 * waiting is remembered and taken by the next wait, so a wake-up between "check for work"
 * and "wait" is never lost. Waits register and unregister themselves (see `waitAny`), so a
 * wait that ended another way leaves nothing behind to swallow a later notify.
 */
export class Signal {
  private pending = false;
  private readonly waiters = new Set<() => void>();

  notify(): void {
    if (this.waiters.size === 0) {
      this.pending = true;
      return;
    }
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const w of waiters) w();
  }

  wait(): Promise<void> {
    return waitAny([this]);
  }

  /** @internal Consumes a remembered notify. */
  take(): boolean {
    const was = this.pending;
    this.pending = false;
    return was;
  }

  /** @internal */
  add(waiter: () => void): void {
    this.waiters.add(waiter);
  }

  /** @internal */
  remove(waiter: () => void): void {
    this.waiters.delete(waiter);
  }
}

/** Resolves at the first notify of any of `signals`, or after `timeout.ms` when given. */
export function waitAny(signals: Signal[], timeout?: { clock: Clock; ms: number }): Promise<void> {
  if (signals.some((s) => s.take())) return Promise.resolve();
  return new Promise<void>((resolve) => {
    let timer: TimerHandle | undefined;
    const done = () => {
      for (const s of signals) s.remove(done);
      if (timer && timeout) timeout.clock.clearTimeout(timer);
      resolve();
    };
    for (const s of signals) s.add(done);
    if (timeout) timer = timeout.clock.setTimeout(done, timeout.ms);
  });
}
