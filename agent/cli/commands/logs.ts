import type { Command } from 'commander';
import { request } from '../../diagnostics/client.js';
import type { LogEntry } from '../../diagnostics/log-control.js';
import { usageError } from '../exit.js';
import { withExamples } from '../help.js';
import { fields, paint, printJson, withDiagOptions, type DiagOptions, type Paint } from '../format.js';

export function registerLogs(program: Command): void {
  withDiagOptions(
    withExamples(program.command('logs'), ['logs -n 20', 'logs --follow --module transport', 'logs --level debug --module drivers.modbus', 'logs --level info'])
      .description("the running agent's recent log lines; --follow for new ones; --level changes the level at run time")
      .option('-f, --follow', 'keep printing new lines until Ctrl-C')
      .option('-n, --lines <n>', 'how many recent lines', '50')
      .option('--level <level>', 'set the log level now (fatal, error, warn, info, debug, trace, silent) until restart')
      .option('--module <name>', 'only this module: its lines, or with --level its level (transport, forwarder, pipeline, twin, drivers.modbus, …; an unknown name is refused with the list)'),
  ).action(async (opts: DiagOptions & { follow?: boolean; lines: string; level?: string; module?: string }) => {
    const p = paint();
    if (opts.level) {
      const r = (await request(opts.socket, 'log-level', { level: opts.level, ...(opts.module ? { module: opts.module } : {}) }, { timeoutMs: 10_000 })) as { levels: Record<string, string> };
      if (opts.json) return printJson(r);
      process.stdout.write(`log level set to ${opts.level}${opts.module ? ` for ${opts.module}` : ''}\n` + fields(Object.entries(r.levels), '  ') + '\n');
      return;
    }
    const lines = Number(opts.lines);
    if (!(Number.isInteger(lines) && lines >= 0)) throw usageError(`--lines '${opts.lines}' is not a count`);
    const { levelName } = await import('../../diagnostics/log-control.js');
    const print = (e: LogEntry) => process.stdout.write((opts.json ? JSON.stringify(e) : renderEntry(e, p, levelName)) + '\n');
    if (!opts.follow) {
      const r = (await request(opts.socket, 'logs', { lines, ...(opts.module ? { module: opts.module } : {}) }, { timeoutMs: 10_000 })) as { entries: LogEntry[] };
      for (const e of r.entries) print(e);
      return;
    }
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      await request(opts.socket, 'logs', { lines, follow: true, ...(opts.module ? { module: opts.module } : {}) }, { onEvent: (e) => print(e as LogEntry), stop: stop.signal });
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  });
}

const SKIP = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'module']);

export function renderEntry(e: LogEntry, p: Paint, levelName: (level: number) => string): string {
  const t = new Date(e.time).toISOString().slice(11, 23);
  const name = String(levelName(e.level)).toUpperCase().padEnd(5);
  const lvl = e.level >= 50 ? p.bad(name) : e.level >= 40 ? p.warn(name) : e.level <= 20 ? p.dim(name) : name;
  const extra = Object.entries(e)
    .filter(([k]) => !SKIP.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${t} ${lvl} ${e.module ? `[${e.module}] ` : ''}${e.msg ?? ''}${extra ? ' ' + p.dim(extra) : ''}`;
}
