import type { CommittedPositions, ReconcilerSource, SourceBatch } from '../source.js';

/**
 * Several sources read as one (messages and backlog files): the first keeps its own id and
 * partition ids, so its checkpoints stay where they were; each other source's partitions are
 * prefixed with its id (`backlog-files:files`).
 */
export class CombinedSource implements ReconcilerSource {
  readonly id: string;
  private readonly extra: ReconcilerSource[];

  constructor(
    private readonly primary: ReconcilerSource,
    ...others: ReconcilerSource[]
  ) {
    this.id = primary.id;
    this.extra = others;
  }

  async open(committed: CommittedPositions): Promise<void> {
    await this.primary.open(committed);
    for (const s of this.extra) {
      const prefix = `${s.id}:`;
      await s.open(async () => {
        const all = await committed();
        return new Map([...all].filter(([p]) => p.startsWith(prefix)).map(([p, pos]) => [p.slice(prefix.length), pos]));
      });
    }
  }

  async partitionIds(): Promise<string[]> {
    const ids = await this.primary.partitionIds();
    for (const s of this.extra) ids.push(...(await s.partitionIds()).map((p) => `${s.id}:${p}`));
    return ids;
  }

  async read(partitionId: string, from: number, max: number): Promise<SourceBatch> {
    const owner = this.extra.find((s) => partitionId.startsWith(`${s.id}:`));
    if (!owner) return this.primary.read(partitionId, from, max);
    const batch = await owner.read(partitionId.slice(owner.id.length + 1), from, max);
    return { ...batch, partitionId, events: batch.events.map((e) => ({ ...e, partitionId })) };
  }

  /** Where a partition ends, from the source that owns it (lag reporting); undefined when it cannot say. */
  async partitionEnd(partitionId: string): Promise<number | undefined> {
    const owner = this.extra.find((s) => partitionId.startsWith(`${s.id}:`));
    if (!owner) return this.primary.partitionEnd?.(partitionId);
    return owner.partitionEnd?.(partitionId.slice(owner.id.length + 1));
  }

  async close(): Promise<void> {
    await this.primary.close();
    for (const s of this.extra) await s.close();
  }
}
