import { randomUUID } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../core/logger.js';

/**
 * Audit records made where no agent runs (`edge-agent modbus write` on the box), waiting in the
 * data dir for the agent to send them: one JSON line each, fsynced before the command answers.
 * The agent sends them at its start. Each carries an `id`, so a record sent twice (a crash
 * between sending and removing the spool) is known as the same one in the cloud.
 */
export const AUDIT_SPOOL = 'audit-spool.jsonl';
const DRAINING = 'audit-spool.draining.jsonl';

export interface SpooledAudit {
  name: string;
  t: number;
  data: Record<string, unknown>;
}

/** Appends one record durably; throws (with the path) when the data dir cannot take it. */
export function spoolAudit(dataDir: string, record: SpooledAudit): void {
  mkdirSync(dataDir, { recursive: true });
  const fd = openSync(join(dataDir, AUDIT_SPOOL), 'a', 0o640);
  try {
    writeSync(fd, JSON.stringify({ ...record, data: { id: randomUUID(), ...record.data } }) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Sends what the spool holds through `send` (which resolves once a record is durable in the
 * outbox), then removes it. The spool is renamed first, so a CLI appending meanwhile starts a
 * new one; a spool left half-sent by a crash is sent again whole at the next start.
 */
export async function sendSpooledAudits(dataDir: string, send: (r: SpooledAudit) => Promise<void>, logger: Logger): Promise<number> {
  const spool = join(dataDir, AUDIT_SPOOL);
  const draining = join(dataDir, DRAINING);
  let sent = 0;
  // A spool a crash left half-sent first, then the one waiting now.
  for (let round = 0; round < 2; round++) {
    if (!existsSync(draining)) {
      if (!existsSync(spool)) break;
      renameSync(spool, draining);
    }
    for (const line of readFileSync(draining, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const record = parseLine(line);
      if (!record) {
        logger.warn({ line: line.slice(0, 200) }, 'unreadable line in the audit spool skipped (a torn last write)');
        continue;
      }
      await send(record);
      sent++;
    }
    rmSync(draining, { force: true });
  }
  if (sent) logger.info({ sent }, 'audit records from the command line sent');
  return sent;
}

function parseLine(line: string): SpooledAudit | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(line);
  } catch {
    return undefined;
  }
  const r = doc as Partial<SpooledAudit> | null;
  if (typeof r !== 'object' || r === null || typeof r.name !== 'string' || typeof r.t !== 'number' || typeof r.data !== 'object' || r.data === null) return undefined;
  return { name: r.name, t: r.t, data: r.data };
}
