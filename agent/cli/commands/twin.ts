import type { Command } from 'commander';
import { request } from '../../diagnostics/client.js';
import { fields, paint, printJson, withDiagOptions, type DiagOptions } from '../format.js';

export function registerTwin(program: Command): void {
  withDiagOptions(program.command('twin').description('the desired $version in force, where the config came from, the last refusal')).action(async (opts: DiagOptions) => {
    const t = (await request(opts.socket, 'twin', {}, { timeoutMs: 10_000 })) as Record<string, unknown>;
    if (opts.json) return printJson(t);
    const p = paint();
    if (t.version === undefined) return void process.stdout.write(`${String(t.note ?? 'no twin handling')}\n`);
    const pairs: Array<[string, string]> = [
      ['twin reporting', t.enabled ? 'on' : 'off'],
      ['$version in force', String(t.version)],
      ['config from', String(t.source)],
      ['applied at', String(t.appliedAt)],
    ];
    if (t.lastRefusal) pairs.push(['last refusal', p.warn(JSON.stringify(t.lastRefusal))]);
    process.stdout.write(fields(pairs) + '\n');
  });
}
