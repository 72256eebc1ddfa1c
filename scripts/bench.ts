// `npm run bench [-- suite…]`: runs every scripts/bench/*.bench.ts suite and prints one table.
import { readdirSync } from 'node:fs';
import os from 'node:os';
import type { BenchRow, BenchSuite } from './bench/harness.js';

const dir = new URL('./bench/', import.meta.url);
const wanted = process.argv.slice(2);

const files = readdirSync(dir).filter((f) => f.endsWith('.bench.ts')).sort();
const suites: BenchSuite[] = [];
for (const f of files) {
  const mod = (await import(new URL(f, dir).href)) as { suite: BenchSuite };
  if (wanted.length === 0 || wanted.includes(mod.suite.name)) suites.push(mod.suite);
}
if (suites.length === 0) {
  console.error(`bench: no suite matches ${wanted.join(', ')}; have: ${files.join(', ')}`);
  process.exit(2);
}

const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
console.log(`machine: ${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, ${os.platform()} ${os.arch()}`);

const rows: Array<BenchRow & { suite: string }> = [];
for (const suite of suites) {
  console.error(`bench: running ${suite.name} …`);
  for (const row of await suite.run((line) => console.error(`  ${suite.name}: ${line}`))) rows.push({ ...row, suite: suite.name });
}

const fmt = (n: number) => (Math.abs(n) >= 100 ? Math.round(n).toLocaleString('en-US') : n.toPrecision(3));
const table = rows.map((r) => [
  r.suite,
  r.name,
  `${fmt(r.value)} ${r.unit}`,
  r.baseline ? `${r.baseline.name}: ${fmt(r.baseline.value)} ${r.unit}` : '',
  r.baseline ? `${(r.value / r.baseline.value).toFixed(2)}×` : '',
  r.note ?? '',
]);
const head = ['suite', 'benchmark', 'value', 'baseline (same run)', 'ratio', 'note'];
const widths = head.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |';
console.log(line(head));
console.log('| ' + widths.map((w) => '-'.repeat(w)).join(' | ') + ' |');
for (const row of table) console.log(line(row));
