import type { Command } from 'commander';
import { request } from '../../diagnostics/client.js';
import type { Provenance } from '../../diagnostics/provenance.js';
import { paint, printJson, table, withDiagOptions, type DiagOptions } from '../format.js';

export function registerConfig(program: Command): void {
  withDiagOptions(
    program
      .command('config')
      .description('the effective config of the running agent, each value with where it came from (file, twin or default)')
      .option('--only <source>', 'show only values from file, twin or default'),
  ).action(async (opts: DiagOptions & { only?: string }) => {
    const r = (await request(opts.socket, 'config', {}, { timeoutMs: 10_000 })) as { file: string; effective: unknown; sources: Record<string, Provenance> };
    if (opts.json) return printJson(r);
    const p = paint();
    const rows: string[][] = [['setting', 'value', 'from']];
    for (const [path, source] of Object.entries(r.sources).sort(([a], [b]) => a.localeCompare(b))) {
      if (opts.only && source !== opts.only) continue;
      const value = JSON.stringify(at(r.effective, path));
      const shown = value.length > 70 ? value.slice(0, 67) + '…' : value;
      rows.push([path, shown, source === 'twin' ? p.warn(source) : source === 'default' ? p.dim(source) : source]);
    }
    process.stdout.write(`config file ${r.file}\n` + table(rows) + '\n');
  });
}

function at(doc: unknown, path: string): unknown {
  let v: unknown = doc;
  for (const k of path.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}
