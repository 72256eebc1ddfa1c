/**
 * Every key of the `meta` sublevel, in one place: the pipeline, journal and outbox each own some,
 * and the continuity check at open reads them all.
 */
export const META = {
  /** Journal position up to which the pipeline has consumed (and deleted) entries. */
  journalCursor: 'journalCursor',
  /** The analytics stage's checkpointed state. */
  stageState: 'stageState',
  /** The steps a stateful stage took since its checkpoint (replayed at a restart). */
  stageTail: 'stageTail',
  /** The seq the next outbox record gets. */
  nextSeq: 'nextSeq',
  /** Seq ranges given up (quota, TTL, damage): answered "evicted" to resend requests. */
  evictedRanges: 'evictedRanges',
  /** Written with `sync` to make LevelDB fsync its log in the journal's interval mode. */
  journalSynced: 'journalSynced',
  /** A synced probe write: the store takes writes again after a fault. */
  probe: 'probe',
} as const;
