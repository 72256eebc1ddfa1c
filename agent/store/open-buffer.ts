import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { EdgeError, errorMessage, isEdgeError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { SeqFloor } from './seq-floor.js';
import { AgentStore } from './store.js';
import { makeDir } from './make-dir.js';

export interface StoreDamage {
  /** Where the damaged store was moved (renamed, never deleted). */
  movedTo: string;
  reason: string;
  at: number;
}

export interface OpenedBuffer {
  store: AgentStore;
  seqFloor: SeqFloor;
  damage?: StoreDamage;
}

/**
 * Opens the agent's buffer under `dataDir` (`buffer/` holds LevelDB, `seq-floor` the seq
 * promise). A store that will not open for any reason but a lock held by another process is
 * moved aside, not deleted, and a fresh one is started: the agent keeps accepting readings,
 * raises the alarm, and never falls back to memory.
 */
export async function openBuffer(dataDir: string, logger: Logger, now: number): Promise<OpenedBuffer> {
  try {
    makeDir(dataDir);
  } catch (cause) {
    throw new EdgeError('EDGE_DATA_DIR_UNUSABLE', `the data directory ${dataDir} is not usable: ${errorMessage(cause)}`, { cause });
  }
  const bufferDir = join(dataDir, 'buffer');
  const seqFloor = SeqFloor.open(dataDir);
  try {
    return { store: await AgentStore.open(bufferDir), seqFloor };
  } catch (err) {
    if (!isEdgeError(err, 'EDGE_STORE_CORRUPT') || !existsSync(bufferDir)) throw err;
    const movedTo = `${bufferDir}.damaged-${new Date(now).toISOString().replace(/[:.]/g, '-')}`;
    renameSync(bufferDir, movedTo);
    const damage: StoreDamage = { movedTo, reason: err.message, at: now };
    logger.error({ ...damage }, 'the buffer could not be opened; it was moved aside and a fresh one started');
    return { store: await AgentStore.open(bufferDir), seqFloor, damage };
  }
}
