/**
 * Merges writes that arrive while one is in progress into a single next write, so many
 * concurrent callers share one fsync (group commit). Each caller's promise settles with the
 * write that carried its items.
 */
export class GroupCommit<T> {
  private pending: Array<{ items: T[]; resolve: () => void; reject: (err: unknown) => void }> = [];
  private writing = false;

  constructor(private readonly write: (items: T[]) => Promise<void>) {}

  submit(items: T[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ items, resolve, reject });
      void this.drain();
    });
  }

  /** Resolves once every submitted write has settled. */
  async idle(): Promise<void> {
    while (this.writing || this.pending.length > 0) await new Promise((r) => setImmediate(r));
  }

  private async drain(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      while (this.pending.length > 0) {
        const group = this.pending.splice(0);
        try {
          await this.write(group.flatMap((g) => g.items));
          for (const g of group) g.resolve();
        } catch (err) {
          for (const g of group) g.reject(err);
        }
      }
    } finally {
      this.writing = false;
    }
  }
}
