import type { Command } from 'commander';
import { parseDuration } from '../duration.js';
import type { DemoTick } from '../../demo/demo.js';
import { usageError } from '../exit.js';
import { untilShutdownSignal } from '../shutdown.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run the whole pipeline locally: Modbus simulator → agent → local IoT Hub emulator (no Azure account, no hardware)')
    .option('-d, --duration <time>', 'stop after this long (e.g. 20s, 2m); default: until Ctrl-C')
    .option('--data-dir <dir>', 'keep the demo’s buffer and hub here (default: a fresh temp dir)')
    .option('--hub-port <port>', 'MQTT/TLS port for the emulator (default: any free port)')
    .option('--log-level <level>', 'agent log level, written to stderr', 'warn')
    .addHelpText('after', '\nThe last line on stdout is a JSON summary: readings, messagesAcked, recordsInHub, resultsInHub, reconciledRows, openGaps, unitsBilled, …')
    .action(async (opts: { duration?: string; dataDir?: string; hubPort?: string; logLevel: string }) => {
      const durationMs = opts.duration !== undefined ? parseDuration(opts.duration, '--duration') : undefined;
      if (durationMs !== undefined && durationMs <= 0) throw usageError('--duration must be longer than 0');
      const hubPort = opts.hubPort !== undefined ? Number(opts.hubPort) : undefined;
      if (hubPort !== undefined && !(Number.isInteger(hubPort) && hubPort >= 0 && hubPort < 65536)) throw usageError(`--hub-port '${opts.hubPort}' is not a port number`);
      const [{ pino }, { runDemo }] = await Promise.all([import('pino'), import('../../demo/demo.js')]);
      const logger = pino({ level: opts.logLevel }, pino.destination(2));
      const stop = new AbortController();
      void untilShutdownSignal().then(() => stop.abort());
      const live = liveLine(process.stderr);
      process.stderr.write(durationMs ? `edge-agent demo: running for ${opts.duration}…\n` : 'edge-agent demo: running; Ctrl-C stops it cleanly\n');
      const summary = await runDemo({
        logger,
        stop: stop.signal,
        onTick: live.update,
        ...(durationMs !== undefined ? { durationMs } : {}),
        ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
        ...(hubPort !== undefined ? { hubPort } : {}),
      });
      live.done();
      process.stdout.write(JSON.stringify(summary) + '\n');
      // The emulator and simulator are closed; nothing else should hold the process open.
      process.exitCode = summary.recordsInHub >= summary.readings ? 0 : 1;
    });
}

function liveLine(out: NodeJS.WriteStream): { update: (tick: DemoTick) => void; done: () => void } {
  const tty = out.isTTY === true;
  let last = 0;
  return {
    update(tick) {
      const s = tick.stats;
      const line =
        `${(tick.elapsedMs / 1000).toFixed(0).padStart(4)}s  readings ${s.readings}  ` +
        `buffered ${s.journalBacklog + s.outboxDepth}  messages ${s.forwarder.messagesAcked} (${s.forwarder.unitsBilled} × 4 KB)  ` +
        `in hub ${tick.recordsInHub} readings + ${tick.resultsInHub} results  reconciled ${tick.reconciledRows}  link ${s.transport.state}`;
      if (tty) out.write(`\r\x1b[2K${line}`);
      else if (tick.elapsedMs - last >= 5000) {
        last = tick.elapsedMs;
        out.write(line + '\n');
      }
    },
    done() {
      if (tty) out.write('\n');
    },
  };
}
