/**
 * Arbitrates one physical line (or one TCP connection) among its slaves. A serial line runs
 * one request at a time (`concurrency` 1); slaves with queued work take turns round-robin,
 * so a slave that queues many requests, or whose requests are slow, cannot starve the others:
 * every other slave gets a turn between any two of its requests.
 */
export class Bus {
  private readonly queues = new Map<string, Array<() => void>>();
  /** Slaves in the order they first used the bus (bounded by the number of devices). */
  private readonly order: string[] = [];
  /** Index in `order` of the slave served last. */
  private cursor = -1;
  private active = 0;

  constructor(private readonly concurrency = 1) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new TypeError('Bus concurrency must be a positive integer');
  }

  /** Runs `task` when it is `slave`'s turn; settles as the task does. */
  run<T>(slave: string, task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let q = this.queues.get(slave);
      if (!q) {
        q = [];
        this.queues.set(slave, q);
        this.order.push(slave);
      }
      q.push(() => {
        task()
          .then(resolve, reject)
          .finally(() => {
            this.active--;
            this.dispatch();
          });
      });
      this.dispatch();
    });
  }

  /** Requests waiting for their turn (not counting the running ones). */
  get waiting(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.length;
    return n;
  }

  private dispatch(): void {
    while (this.active < this.concurrency) {
      const next = this.takeNext();
      if (!next) return;
      this.active++;
      next();
    }
  }

  private takeNext(): (() => void) | undefined {
    // Start after the slave served last, so every slave with work gets a turn in between.
    for (let i = 1; i <= this.order.length; i++) {
      const idx = (this.cursor + i) % this.order.length;
      const job = this.queues.get(this.order[idx]!)!.shift();
      if (job) {
        this.cursor = idx;
        return job;
      }
    }
    return undefined;
  }
}
