import { isBitTable, MAX_READ_BITS, MAX_READ_REGISTERS, type Table } from './pdu.js';

/** What the planner needs to know of a point. */
export interface PlannablePoint {
  name: string;
  table: Table;
  address: number;
  /** Registers (or bits) the point spans. */
  count: number;
}

/** One read request and the points it serves. */
export interface ReadBlock<P extends PlannablePoint = PlannablePoint> {
  table: Table;
  address: number;
  count: number;
  points: P[];
}

export interface PlanOptions {
  /** Unused registers/bits tolerated between two points to still read them together. */
  maxGap: number;
  maxRegisters?: number;
  maxBits?: number;
}

/**
 * Coalesces points into as few block reads as the map allows: per table, in address order,
 * a point joins the current block when the hole before it is at most `maxGap` and the block
 * stays within the request limit (≤125 registers, ≤2000 bits). Blocks come out ordered by
 * table (coil, discrete, holding, input) then address, so a cycle is deterministic.
 */
export function planReads<P extends PlannablePoint>(points: readonly P[], options: PlanOptions): ReadBlock<P>[] {
  const tables: Table[] = ['coil', 'discrete', 'holding', 'input'];
  const blocks: ReadBlock<P>[] = [];
  for (const table of tables) {
    const limit = isBitTable(table) ? Math.min(options.maxBits ?? MAX_READ_BITS, MAX_READ_BITS) : Math.min(options.maxRegisters ?? MAX_READ_REGISTERS, MAX_READ_REGISTERS);
    const list = points.filter((p) => p.table === table).sort((a, b) => a.address - b.address);
    let current: ReadBlock<P> | undefined;
    for (const p of list) {
      if (p.count > limit) throw new TypeError(`point ${p.name} spans ${p.count}, over the request limit ${limit}`);
      if (current) {
        const end = current.address + current.count;
        const newEnd = Math.max(end, p.address + p.count);
        if (p.address - end <= options.maxGap && newEnd - current.address <= limit) {
          current.count = newEnd - current.address;
          current.points.push(p);
          continue;
        }
      }
      current = { table, address: p.address, count: p.count, points: [p] };
      blocks.push(current);
    }
  }
  return blocks;
}
