import { join } from 'node:path';
import { EdgeError } from '../../../agent/core/errors.js';
import { CoalescingWriter, readJsonFile } from '../atomic-file.js';

/** DPS's record of a device it has assigned: what `edge-agent hub dps registrations` lists. */
export interface RegistrationRecord {
  registrationId: string;
  deviceId: string;
  assignedHub: string;
  /** `individual:<registrationId>` or `group:<groupId>`. */
  enrollment: string;
  /** DPS's substatus of the last assignment. */
  substatus: 'initialAssignment' | 'deviceDataMigrated';
  createdAt: number;
  lastUpdatedAt: number;
  /** Registrations completed, the first included: a device that asks DPS at every boot shows here. */
  count: number;
}

export class RegistrationStore {
  private readonly byId = new Map<string, RegistrationRecord>();
  private readonly writer: CoalescingWriter;

  private constructor(path: string) {
    this.writer = new CoalescingWriter(path, () => JSON.stringify({ version: 1, registrations: this.list() }, null, 2) + '\n');
  }

  static path(dataDir: string): string {
    return join(dataDir, 'registrations.json');
  }

  static async open(dataDir: string): Promise<RegistrationStore> {
    const path = RegistrationStore.path(dataDir);
    const store = new RegistrationStore(path);
    for (const r of await RegistrationStore.readFile(path)) store.byId.set(r.registrationId, r);
    return store;
  }

  /** The records on disk, for a reader in another process (the CLI). */
  static async readFile(path: string): Promise<RegistrationRecord[]> {
    const doc = (await readJsonFile(path)) as { registrations?: unknown } | undefined;
    if (doc === undefined) return [];
    if (!Array.isArray(doc.registrations)) throw new EdgeError('EDGE_STORE_CORRUPT', `${path} has no "registrations" list`);
    return doc.registrations as RegistrationRecord[];
  }

  get(registrationId: string): RegistrationRecord | undefined {
    return this.byId.get(registrationId);
  }

  list(): RegistrationRecord[] {
    return [...this.byId.values()].sort((a, b) => a.registrationId.localeCompare(b.registrationId));
  }

  /** Records an assignment; durable when it resolves. */
  async record(r: Omit<RegistrationRecord, 'count' | 'createdAt' | 'lastUpdatedAt'>, now: number): Promise<RegistrationRecord> {
    const prev = this.byId.get(r.registrationId);
    const next: RegistrationRecord = { ...r, createdAt: prev?.createdAt ?? now, lastUpdatedAt: now, count: (prev?.count ?? 0) + 1 };
    this.byId.set(r.registrationId, next);
    await this.writer.save();
    return next;
  }

  settled(): Promise<void> {
    return this.writer.settled();
  }
}
