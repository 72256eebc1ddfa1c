import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EdgeError, errorMessage, isEdgeError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { droppedAtOpen, salvage } from './salvage.js';
import { SeqFloor } from './seq-floor.js';
import { AgentStore, moveAside, type StoreOptions } from './store.js';
import { makeDir } from './make-dir.js';

export interface StoreDamage {
  /** Where the damaged store was moved (renamed, never deleted); absent when LevelDB dropped data on its own. */
  movedTo?: string;
  reason: string;
  at: number;
  /** Entries copied from the damaged store into the fresh one. */
  salvaged?: number;
}

export interface OpenedBuffer {
  store: AgentStore;
  seqFloor: SeqFloor;
  damage?: StoreDamage;
}

/**
 * Opens the agent's buffer under `dataDir` (`buffer/` holds LevelDB, `seq-floor` the seq
 * promise). A store that will not open for any reason but a lock held by another process or a
 * full disk is moved aside, not deleted; a fresh one is started and what can still be read from
 * the old one is salvaged into it. The agent keeps accepting readings, raises the alarm, and never
 * falls back to memory. Damage LevelDB passed over on its own (a garbled log record it skipped) is
 * reported too: the continuity check then says what it cost.
 */
export async function openBuffer(dataDir: string, logger: Logger, now: number, options: StoreOptions = {}): Promise<OpenedBuffer> {
  try {
    makeDir(dataDir);
  } catch (cause) {
    throw new EdgeError('EDGE_DATA_DIR_UNUSABLE', `the data directory ${dataDir} is not usable: ${errorMessage(cause)}`, { cause });
  }
  const bufferDir = join(dataDir, 'buffer');
  const seqFloor = SeqFloor.open(dataDir);
  let store: AgentStore;
  try {
    store = await AgentStore.open(bufferDir, Date.now, options);
  } catch (err) {
    if (!isEdgeError(err, 'EDGE_STORE_DAMAGED') || !existsSync(bufferDir)) throw err;
    return { ...(await replaceDamaged(bufferDir, err.message, logger, now, options)), seqFloor };
  }
  const dropped = droppedAtOpen(bufferDir);
  if (dropped) {
    logger.error({ dir: bufferDir, leveldb: dropped }, 'LevelDB skipped damaged records while opening the buffer');
    return { store, seqFloor, damage: { reason: `LevelDB skipped damaged records at open: ${dropped}`, at: now } };
  }
  return { store, seqFloor };
}

async function replaceDamaged(bufferDir: string, reason: string, logger: Logger, now: number, options: StoreOptions): Promise<{ store: AgentStore; damage: StoreDamage }> {
  const movedTo = moveAside(bufferDir, now);
  const store = await AgentStore.open(bufferDir, Date.now, options);
  return { store, damage: await salvageInto(store, movedTo, reason, now, logger) };
}

/**
 * A damaged store that is open: moved aside under the same handle, a fresh one in its place,
 * and what can be read salvaged into it (found at the first reads of a start, or at run time).
 */
export async function replaceOpenStore(store: AgentStore, reason: string, now: number, logger: Logger): Promise<StoreDamage> {
  return salvageInto(store, await store.replace(now), reason, now, logger);
}

async function salvageInto(store: AgentStore, movedTo: string, reason: string, at: number, logger: Logger): Promise<StoreDamage> {
  const saved = await salvage(movedTo, store);
  const damage: StoreDamage = { movedTo, reason, at, salvaged: saved.entries };
  logger.error({ ...damage, ...(saved.problem ? { salvageProblem: saved.problem } : {}) }, 'the buffer is damaged: it was moved aside (kept), a fresh one started, and what could be read was copied over');
  return damage;
}
