import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeDurableFile } from '../core/durable-file.js';
import { errorMessage } from '../core/errors.js';
import { makeDir } from '../store/make-dir.js';
import { isJsonObject, type JsonObject } from './overlay.js';

/**
 * The last desired document the agent accepted, with its `$version`. Written beside the buffer so
 * that a box that boots without network runs what the twin last said, not the file's defaults.
 */
export interface LastGood {
  version: number;
  desired: JsonObject;
  savedAt: number;
}

export function lastGoodPath(dataDir: string): string {
  return join(dataDir, 'twin-desired.json');
}

/**
 * Temp file, fsync, rename, fsync of the directory: after a power cut the file holds either the
 * previous document or the new one, never a torn mix.
 */
export async function saveLastGood(dataDir: string, value: LastGood): Promise<void> {
  const path = lastGoodPath(dataDir);
  makeDir(dirname(path));
  await writeDurableFile(path, JSON.stringify(value) + '\n');
}

/** The saved document, or undefined (with the reason) when there is none or it is unreadable. */
export async function loadLastGood(dataDir: string): Promise<{ value?: LastGood; problem?: string }> {
  let text: string;
  try {
    text = await readFile(lastGoodPath(dataDir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    return { problem: `cannot read ${lastGoodPath(dataDir)}: ${errorMessage(err)}` };
  }
  try {
    const doc = JSON.parse(text) as unknown;
    if (isJsonObject(doc) && Number.isSafeInteger(doc.version) && isJsonObject(doc.desired) && typeof doc.savedAt === 'number') {
      return { value: { version: doc.version as number, desired: doc.desired, savedAt: doc.savedAt } };
    }
  } catch {
    // fall through
  }
  return { problem: `${lastGoodPath(dataDir)} is not a saved desired document; ignoring it` };
}
