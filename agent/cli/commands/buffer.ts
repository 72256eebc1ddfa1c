import type { Command } from 'commander';
import { request } from '../../diagnostics/client.js';
import type { BufferSummary } from '../../diagnostics/handlers/status.js';
import type { AgentStats, ForwarderStats } from '../../core/agent-stats.js';
import { trafficFields } from '../traffic-format.js';
import { filesPathLine } from './files-path.js';
import { age, bytes, fields, paint, printJson, suppressedLine, table, withDiagOptions, type DiagOptions } from '../format.js';

export function registerBuffer(program: Command): void {
  withDiagOptions(program.command('buffer').description('what waits to be sent: per kind, oldest age, disk against quota, evictions')).action(async (opts: DiagOptions) => {
    const b = (await request(opts.socket, 'buffer', {}, { timeoutMs: 10_000 })) as BufferSummary & { forwarder: ForwarderStats; connection: string; paths?: AgentStats['paths'] };
    if (opts.json) return printJson(b);
    const p = paint();
    const rows: string[][] = [['kind', 'records', 'bytes']];
    for (const [kind, f] of Object.entries(b.unsent)) rows.push([kind, String(f.records), bytes(f.bytes)]);
    rows.push(['(sent, kept for resend)', String(b.retained.records), bytes(b.retained.bytes)]);
    const lines = [
      p.bold('unsent'),
      table(rows, { indent: '  ', right: [1, 2] }),
      '',
      fields([
        ['journal backlog', `${b.journalBacklog} readings not yet through the pipeline`],
        ['oldest unsent', age(b.oldestUnsentAgeMs)],
        ['disk', `${bytes(b.bytes)} of ${bytes(b.quotaBytes)} quota`],
        ['next seq', String(b.nextSeq)],
        ['connection', b.connection === 'connected' ? p.ok(b.connection) : p.warn(b.connection)],
        ['in flight', String(b.forwarder.inFlight)],
        ...trafficFields(b.forwarder.traffic),
        ...(b.paths?.files ? ([['sent as files', filesPathLine(b.paths.files)]] as Array<[string, string]>) : []),
        ['evicted (quota)', counts(b.evicted)],
        ['expired (ttl)', counts(b.expired)],
        ['deadband', suppressedLine(b.deadband)],
        ['lost seq ranges', b.evictedRanges.length ? b.evictedRanges.map((r) => JSON.stringify(r)).join(' ') : 'none'],
        ['written to disk', b.written ? `${bytes(b.written.deviceBytes)} since start, ${b.written.deviceBytesPerReading ?? '–'} B per reading (${b.written.writeCallsPerReading ?? '–'} B per reading handed to write())` : 'not known here'],
      ]),
    ];
    process.stdout.write(lines.join('\n') + '\n');
  });
}

function counts(c: Record<string, number>): string {
  const parts = Object.entries(c).filter(([, n]) => n > 0);
  return parts.length ? parts.map(([k, n]) => `${k} ${n}`).join(', ') : 'none';
}
