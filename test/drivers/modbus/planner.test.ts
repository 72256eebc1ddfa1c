import { describe, expect, it } from 'vitest';
import { planReads } from '../../../drivers/modbus/planner.js';

const p = (name: string, table: 'coil' | 'holding' | 'input', address: number, count = 1) => ({ name, table, address, count });
const shape = (blocks: ReturnType<typeof planReads>) => blocks.map((b) => `${b.table}:${b.address}+${b.count}[${b.points.map((x) => x.name).join(',')}]`);

describe('planReads', () => {
  it('coalesces adjacent and nearby points, splits at gaps over maxGap', () => {
    const points = [p('a', 'holding', 0, 2), p('b', 'holding', 2), p('c', 'holding', 8), p('d', 'holding', 30, 2), p('e', 'input', 0)];
    expect(shape(planReads(points, { maxGap: 5 }))).toEqual(['holding:0+9[a,b,c]', 'holding:30+2[d]', 'input:0+1[e]']);
    expect(shape(planReads(points, { maxGap: 0 }))).toEqual(['holding:0+3[a,b]', 'holding:8+1[c]', 'holding:30+2[d]', 'input:0+1[e]']);
  });

  it('never exceeds 125 registers or 2000 bits per request', () => {
    const regs = Array.from({ length: 300 }, (_, i) => p(`r${i}`, 'holding', i));
    const blocks = planReads(regs, { maxGap: 10 });
    expect(blocks.map((b) => b.count)).toEqual([125, 125, 50]);
    const bits = Array.from({ length: 4500 }, (_, i) => p(`c${i}`, 'coil', i));
    expect(planReads(bits, { maxGap: 0 }).map((b) => b.count)).toEqual([2000, 2000, 500]);
    expect(planReads(regs, { maxGap: 10, maxRegisters: 100 }).map((b) => b.count)).toEqual([100, 100, 100]);
  });

  it('keeps multi-register points whole across a block boundary', () => {
    const points = [p('x', 'holding', 0, 124), p('y', 'holding', 124, 2)];
    expect(shape(planReads(points, { maxGap: 10 }))).toEqual(['holding:0+124[x]', 'holding:124+2[y]']);
  });
});
