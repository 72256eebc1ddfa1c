import type { Command } from 'commander';
import { request } from '../../diagnostics/client.js';
import type { SendTestAnswer } from '../../diagnostics/handlers/send-test.js';
import { parseDuration } from '../duration.js';
import { EXIT_FAILURE } from '../exit.js';
import { withExamples } from '../help.js';
import { age, paint, printJson, withDiagOptions, type DiagOptions } from '../format.js';

export function registerSendTest(program: Command): void {
  withDiagOptions(
    withExamples(program.command('send-test'), ['send-test', 'send-test --timeout 30s --json'])
      .description('send one marker reading through the whole pipeline to the hub and wait for its acknowledgement')
      .option('--timeout <duration>', 'how long to wait for the hub (500ms, 10s, 2m; a bare number is ms)', '10s'),
  ).action(async (opts: DiagOptions & { timeout: string }) => {
    const timeoutMs = parseDuration(opts.timeout, '--timeout', { min: 1, max: 600_000 });
    const r = (await request(opts.socket, 'send-test', { timeoutMs }, { timeoutMs: timeoutMs + 10_000 })) as SendTestAnswer & { connection: { state: string } };
    if (opts.json) printJson(r);
    else {
      const p = paint();
      if (r.delivered) process.stdout.write(p.ok(`delivered: the hub acknowledged the test reading in ${age(r.elapsedMs)}`) + (r.queuedAhead ? ` (${r.queuedAhead} records were queued ahead of it)` : '') + '\n');
      else {
        const why = r.reason ? `: ${r.reason.code}: ${r.reason.message}` : '';
        process.stdout.write(p.bad(`NOT delivered within ${age(timeoutMs)}`) + `${why}; connection ${r.connection.state}; the reading stays buffered and goes out later\n`);
      }
    }
    if (!r.delivered) process.exitCode = EXIT_FAILURE;
  });
}
