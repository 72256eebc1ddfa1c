import { Outbox, type RecordDraft } from '../../agent/outbox/outbox.js';
import { AgentStore } from '../../agent/store/store.js';

/**
 * An outbox on a real LevelDB at `path`, and `stage`: what the pipeline does with drafts (seqs
 * given, the batch synced, then committed), for tests that feed the outbox or forwarder directly.
 */
export async function stagingOutbox(path: string): Promise<{ store: AgentStore; outbox: Outbox; stage: (drafts: RecordDraft[]) => Promise<void> }> {
  const store = await AgentStore.open(path);
  const outbox = new Outbox(store);
  await outbox.init();
  const stage = async (drafts: RecordDraft[]) => {
    const staged = outbox.stage(drafts);
    await store.write(staged.ops, { sync: true });
    staged.commit();
  };
  return { store, outbox, stage };
}
