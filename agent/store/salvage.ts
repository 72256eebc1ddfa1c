import { cpSync, readFileSync, rmSync } from 'node:fs';
import { Level } from 'level';
import { errorMessage } from '../core/errors.js';
import type { AgentStore } from './store.js';

export interface SalvageResult {
  /** Entries copied from the damaged store into the fresh one. */
  entries: number;
  /** Why salvage stopped short or did not run, if it did. */
  problem?: string;
}

const COPY_BATCH = 1000;

/**
 * `level` is classic-level on Node; its universal typings (browsers too) leave out classic-level's
 * static `repair` (LevelDB's RepairDB), which is there at run time.
 */
function repairDb(location: string): Promise<void> {
  const repair = (Level as unknown as { repair?: (location: string) => Promise<void> }).repair;
  if (typeof repair !== 'function') return Promise.reject(new Error('this LevelDB binding has no repair'));
  return repair.call(Level, location);
}

/**
 * Copies what can still be read from a damaged store (moved aside, kept as it is) into the fresh
 * one: LevelDB's repair runs on a scratch copy, which rebuilds the manifest from the tables and
 * logs and drops only the blocks that fail their checks; every entry it keeps is copied over, raw
 * keys and all sublevels. The continuity check that follows finds what did not survive.
 */
export async function salvage(damagedDir: string, into: AgentStore): Promise<SalvageResult> {
  const scratch = `${damagedDir}.salvage`;
  let entries = 0;
  try {
    rmSync(scratch, { recursive: true, force: true });
    cpSync(damagedDir, scratch, { recursive: true });
    await repairDb(scratch);
    const db = new Level<string, Buffer>(scratch, { keyEncoding: 'utf8', valueEncoding: 'buffer', createIfMissing: false, maxOpenFiles: 16 });
    await db.open();
    try {
      let batch: Array<{ type: 'put'; key: string; value: Buffer }> = [];
      const flush = async () => {
        if (batch.length === 0) return;
        await into.write(batch);
        entries += batch.length;
        batch = [];
      };
      try {
        for await (const [key, value] of db.iterator()) {
          batch.push({ type: 'put', key, value });
          if (batch.length >= COPY_BATCH) await flush();
        }
      } finally {
        await flush();
      }
    } finally {
      await db.close();
    }
    await into.write([], { sync: true });
    return { entries };
  } catch (err) {
    return { entries, problem: errorMessage(err) };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * What LevelDB's own recovery says it dropped when it last opened `dir` (its info log): a garbled
 * log record is skipped silently, so this is the only sign of it. Undefined when it dropped nothing.
 */
export function droppedAtOpen(dir: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(`${dir}/LOG`, 'utf8');
  } catch {
    return undefined;
  }
  const lines = text.split('\n').filter((l) => /dropping|corruption/i.test(l));
  return lines.length > 0 ? lines.map((l) => l.replace(/^\S+\s+\S+\s+/, '').trim()).join('; ').slice(0, 500) : undefined;
}
