import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import { EdgeError } from '../../agent/core/errors.js';
import { readJsonFile, writeFileAtomic } from './atomic-file.js';

/**
 * `dataDir/emulator.json`: present while an emulator runs on that data dir. It keeps two
 * emulators off one message log, and tells the CLI in another process where the running
 * emulator's ports are.
 */
export interface RuntimeInfo {
  pid: number;
  port: number;
  servicePort: number | null;
  hostName: string;
  startedAt: number;
}

/** Data dirs in use by emulators of this process (the pid check cannot tell them apart). */
const claimed = new Set<string>();

function runtimeFilePath(dataDir: string): string {
  return join(dataDir, 'emulator.json');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but is not ours to signal; still alive.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The running emulator of a data dir, if there is one (a file left by a dead process is ignored). */
export async function readRuntimeInfo(dataDir: string): Promise<RuntimeInfo | undefined> {
  let doc: unknown;
  try {
    doc = await readJsonFile(runtimeFilePath(dataDir));
  } catch {
    return undefined;
  }
  if (typeof doc !== 'object' || doc === null) return undefined;
  const info = doc as RuntimeInfo;
  if (!Number.isSafeInteger(info.pid) || !Number.isSafeInteger(info.port)) return undefined;
  if (info.pid === process.pid ? !claimed.has(dataDir) : !alive(info.pid)) return undefined;
  return info;
}

/**
 * Claims a data dir for this process's emulator, or (with `info`) records its ports once
 * listening. @throws EdgeError EDGE_STORE_LOCKED when another live emulator holds it.
 */
export async function claimDataDir(dataDir: string, info?: RuntimeInfo): Promise<void> {
  if (info) {
    await writeFileAtomic(runtimeFilePath(dataDir), JSON.stringify(info, null, 2) + '\n', 0o644);
    return;
  }
  if (claimed.has(dataDir)) {
    throw new EdgeError('EDGE_STORE_LOCKED', `data directory ${dataDir} is in use by another IoT Hub emulator in this process`);
  }
  const other = await readRuntimeInfo(dataDir);
  if (other || claimed.has(dataDir)) {
    throw new EdgeError('EDGE_STORE_LOCKED', `data directory ${dataDir} is in use by another IoT Hub emulator (pid ${other?.pid ?? process.pid})`);
  }
  claimed.add(dataDir);
}

export async function releaseDataDir(dataDir: string): Promise<void> {
  if (!claimed.delete(dataDir)) return;
  await rm(runtimeFilePath(dataDir), { force: true });
}
