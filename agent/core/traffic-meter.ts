import type { RecordClass } from './wire.js';

/**
 * What reached the hub, as IoT Hub bills it: per path (`messages`: the forwarder's PUBACKed
 * messages; `files`: the backlog drainer's uploads whose completion the hub accepted) and per
 * record class, since start and per UTC day.
 */
export type TrafficPath = 'messages' | 'files';

export interface TrafficCell {
  /** Messages (or files) the hub acknowledged. A file holding several classes counts under one of them (see `add`). */
  sends: number;
  records: number;
  /** Bytes as billed: the (compressed) body. */
  bytes: number;
  /** Billed 4 KB units. */
  units: number;
}

export type TrafficTable = Partial<Record<TrafficPath, Partial<Record<RecordClass, TrafficCell>>>>;

export interface TrafficFigures {
  sinceStart: TrafficTable;
  /** UTC days (`YYYY-MM-DD`), oldest first, at most `DAYS_KEPT`; the last is today's once anything was sent. */
  days: Array<{ day: string; traffic: TrafficTable }>;
}

/** A week back and today: enough to compare against the hub's daily message quota. */
const DAYS_KEPT = 8;

export class TrafficMeter {
  private readonly total: TrafficTable = {};
  private readonly days: Array<{ day: string; traffic: TrafficTable }> = [];

  /**
   * Counts one acknowledged send of `cls` records by `path`, at epoch ms `at`. `sends` (default 1)
   * is 0 for the records of a send already counted under another class: a backlog file holds one
   * kind, and a query's own priority can put two classes in it; the file is counted once, so the
   * classes still add up to what the hub took.
   */
  add(path: TrafficPath, cls: RecordClass, sent: Omit<TrafficCell, 'sends'> & { sends?: number }, at: number): void {
    const day = new Date(at).toISOString().slice(0, 10);
    let today = this.days[this.days.length - 1];
    if (today?.day !== day) {
      today = { day, traffic: {} };
      this.days.push(today);
      if (this.days.length > DAYS_KEPT) this.days.shift();
    }
    for (const table of [this.total, today.traffic]) {
      const byClass = (table[path] ??= {});
      const cell = (byClass[cls] ??= { sends: 0, records: 0, bytes: 0, units: 0 });
      cell.sends += sent.sends ?? 1;
      cell.records += sent.records;
      cell.bytes += sent.bytes;
      cell.units += sent.units;
    }
  }

  figures(): TrafficFigures {
    return { sinceStart: copy(this.total), days: this.days.map((d) => ({ day: d.day, traffic: copy(d.traffic) })) };
  }
}

function copy(t: TrafficTable): TrafficTable {
  return Object.fromEntries(Object.entries(t).map(([path, byClass]) => [path, Object.fromEntries(Object.entries(byClass).map(([c, cell]) => [c, { ...cell }]))])) as TrafficTable;
}
