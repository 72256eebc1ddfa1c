import { readFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeDurableFile } from '../../core/durable-file.js';
import { errorMessage, systemErrorCode } from '../../core/errors.js';

/**
 * The hub DPS assigned, kept in `<dataDir>/provisioning.json` so later boots connect straight
 * to it (Microsoft advises against registering at every boot). A file of its own rather than a
 * key in the LevelDB store: the store can be moved aside and rebuilt after damage (store
 * recovery) and the box must still know its hub; the transport must not depend on the store;
 * and a technician can read it. Written temp + fsync + rename + directory fsync, so a power cut
 * leaves the old assignment or the new one, never a torn one.
 */
export interface StoredAssignment {
  version: 1;
  idScope: string;
  registrationId: string;
  assignedHub: string;
  deviceId: string;
  substatus?: string;
  /** Epoch ms of the registration. */
  at: number;
  /** Why it was asked for: first boot, the hub refused the credentials, a `reprovision` call, … */
  reason: string;
}

export function assignmentPath(dataDir: string): string {
  return join(dataDir, 'provisioning.json');
}

/** The stored assignment, or why there is none usable (missing is not a problem; damage is). */
export async function loadAssignment(dataDir: string): Promise<{ value?: StoredAssignment; problem?: string }> {
  const path = assignmentPath(dataDir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (systemErrorCode(err) === 'ENOENT') return {};
    return { problem: `${path} cannot be read (${errorMessage(err)}); registering with DPS again` };
  }
  try {
    const v = JSON.parse(text) as Partial<StoredAssignment>;
    if (v.version === 1 && typeof v.assignedHub === 'string' && typeof v.deviceId === 'string' && typeof v.idScope === 'string' && typeof v.registrationId === 'string' && typeof v.at === 'number') {
      return { value: v as StoredAssignment };
    }
  } catch {
    // fall through: an unreadable assignment is replaced by a fresh registration
  }
  return { problem: `${path} is not a provisioning record; registering with DPS again` };
}

export async function saveAssignment(dataDir: string, value: StoredAssignment): Promise<void> {
  const path = assignmentPath(dataDir);
  await mkdir(dirname(path), { recursive: true });
  await writeDurableFile(path, JSON.stringify(value) + '\n');
}
