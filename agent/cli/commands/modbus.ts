import { Option, type Command } from 'commander';
import type { ProbeReadOptions, ProbeScanOptions, ProbeTarget, ScanAnswer } from '../../../drivers/index.js';
import { parseDuration } from '../duration.js';
import { usageError } from '../exit.js';
import { registerModbusWrite } from './modbus-write.js';
import { withExamples } from '../help.js';

interface TargetFlags {
  device?: string;
  /** The old spelling of --device (hidden): `--port` is a TCP port everywhere else. */
  port?: string;
  baud?: string;
  parity?: string;
  dataBits?: string;
  stopBits?: string;
  host?: string;
  tcpPort?: string;
  timeout?: string;
  json?: boolean;
}

interface ReadFlags extends TargetFlags {
  unit: string;
  table: string;
  address: string;
  count: string;
  type?: string;
  order?: string;
}

interface ScanFlags extends TargetFlags {
  from?: string;
  to?: string;
}

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v.trim())) throw usageError(`${name} must be a whole number, not '${v}'`);
  return Number(v);
}

function target(f: TargetFlags, defaultTimeoutMs: number): ProbeTarget {
  const t: ProbeTarget = {};
  if (f.device !== undefined && f.port !== undefined && f.device !== f.port) throw usageError('give the serial device once: --device (--port is its old name)');
  const device = f.device ?? f.port;
  if (device !== undefined && f.host !== undefined) throw usageError('give either --device (RTU) or --host (TCP), not both');
  if (device === undefined && f.host === undefined) throw usageError('give --device PATH for a serial (RTU) device or --host HOST for Modbus TCP');
  if (device !== undefined) t.port = device;
  if (f.host !== undefined) t.host = f.host;
  if (f.baud !== undefined) t.baudRate = int('--baud', f.baud)!;
  if (f.parity !== undefined) t.parity = f.parity as ProbeTarget['parity'];
  if (f.dataBits !== undefined) t.dataBits = int('--data-bits', f.dataBits) as 7 | 8;
  if (f.stopBits !== undefined) t.stopBits = int('--stop-bits', f.stopBits) as 1 | 2;
  if (f.tcpPort !== undefined) t.tcpPort = int('--tcp-port', f.tcpPort)!;
  t.timeoutMs = f.timeout !== undefined ? parseDuration(f.timeout, '--timeout', { min: 1 }) : defaultTimeoutMs;
  return t;
}

function withTarget(cmd: Command, defaultTimeout: string): Command {
  return cmd
    .option('--device <path>', 'serial device of an RTU bus (e.g. /dev/ttyUSB0, /dev/serial/by-id/…)')
    .addOption(new Option('--port <path>', 'old name of --device').hideHelp())
    .option('--baud <n>', 'baud rate (RTU, default 9600)')
    .option('--parity <p>', 'none | even | odd (RTU, default none)')
    .option('--data-bits <n>', '7 | 8 (RTU, default 8)')
    .option('--stop-bits <n>', '1 | 2 (RTU, default 1)')
    .option('--host <host>', 'Modbus TCP host')
    .option('--tcp-port <n>', 'Modbus TCP port (default 502)')
    .option('--timeout <duration>', `reply timeout per request (default ${defaultTimeout}; e.g. 2s; a bare number is ms)`)
    .option('--json', 'print JSON instead of text');
}

/**
 * `edge-agent modbus read|scan`: the commissioning probe. Reads registers from a real device,
 * or lists the unit ids that answer on a bus, without a running agent.
 */
export function registerModbus(program: Command): void {
  const modbus = program.command('modbus').description('commissioning probe: read (or write a configured point of) a Modbus device, RTU or TCP, without a running agent');

  withTarget(
    withExamples(modbus.command('read'), ['modbus read --device /dev/ttyUSB0 --unit 1 --address 0 --count 4', 'modbus read --host 10.0.0.7 --unit 1 --table input --address 100 --count 2 --type float32 --order CDAB --timeout 2s'])
      .description('read registers or bits and print the decoded values')
      .requiredOption('--unit <id>', 'unit (slave) id')
      .option('--table <table>', 'holding | input | coil | discrete', 'holding')
      .requiredOption('--address <n>', 'first address (0-based, as on the wire)')
      .option('--count <n>', 'number of values (for --type string: registers)', '1')
      .option('--type <type>', 'bool | int16 | uint16 | int32 | uint32 | float32 | float64 | string (default uint16, bool for bits)')
      .option('--order <order>', 'byte/word order ABCD | CDAB | BADC | DCBA (default ABCD)'),
    `${READ_TIMEOUT_MS}ms`,
  ).action(async (f: ReadFlags) => {
    const o: ProbeReadOptions = {
      ...target(f, READ_TIMEOUT_MS),
      unit: int('--unit', f.unit)!,
      table: f.table as ProbeReadOptions['table'],
      address: int('--address', f.address)!,
      count: int('--count', f.count)!,
    };
    if (f.type !== undefined) o.type = f.type as ProbeReadOptions['type'];
    if (f.order !== undefined) o.order = f.order.toUpperCase() as ProbeReadOptions['order'];
    const { probeRead } = await import('../../../drivers/index.js');
    const r = await probeRead(o);
    if (f.json) {
      process.stdout.write(JSON.stringify(r) + '\n');
      return;
    }
    for (const v of r.values) {
      const raw = v.registers ? `  [${v.registers.map((x) => '0x' + x.toString(16).padStart(4, '0')).join(' ')}]` : '';
      process.stdout.write(`${r.table} ${v.address}: ${typeof v.value === 'string' ? JSON.stringify(v.value) : String(v.value)}${raw}\n`);
    }
  });

  withTarget(
    withExamples(modbus.command('scan'), ['modbus scan --device /dev/ttyUSB0 --baud 19200 --parity even', 'modbus scan --host 10.0.0.7 --from 1 --to 10 --timeout 1s'])
      .description('list the unit ids that answer, each as it answers (reads holding register 0 of each; an exception reply counts as an answer); progress on stderr when it is a terminal')
      .option('--from <id>', 'first unit id (default 1)')
      .option('--to <id>', 'last unit id (default 247 on serial, 255 on TCP)'),
    `${SCAN_TIMEOUT_MS}ms`,
  ).action(async (f: ScanFlags) => {
    const o: ProbeScanOptions = { ...target(f, SCAN_TIMEOUT_MS) };
    const from = int('--from', f.from);
    const to = int('--to', f.to);
    if (from !== undefined) o.from = from;
    if (to !== undefined) o.to = to;
    const first = o.from ?? 1;
    const last = o.to ?? (o.host ? 255 : 247);
    const progress = scanProgress(process.stderr, first, last);
    o.onUnit = (unit, answer) => {
      if (answer && !f.json) progress.above(unitLine(answer));
      progress.tried(unit, answer !== undefined);
    };
    const { probeScan } = await import('../../../drivers/index.js');
    let found: ScanAnswer[];
    try {
      found = await probeScan(o);
    } finally {
      progress.done();
    }
    if (f.json) {
      process.stdout.write(JSON.stringify({ units: found }) + '\n');
      return;
    }
    process.stdout.write(found.length ? `${found.length} unit${found.length > 1 ? 's' : ''} answer\n` : 'no unit answered\n');
  });

  registerModbusWrite(modbus);
}

/** A slow unit is missed at 100 ms; 300 ms keeps a full bus scan of 247 units near a minute and a quarter. */
const SCAN_TIMEOUT_MS = 300;
const READ_TIMEOUT_MS = 1000;

function unitLine(a: ScanAnswer): string {
  return `unit ${a.unit}: ${a.reply === 'ok' ? 'answers' : `answers with exception ${a.reply.exception} (${a.reply.name})`}\n`;
}

/**
 * `scanning 37/247 (2 answered)` rewritten in place on a terminal's stderr, cleared before each
 * found unit's line goes to stdout and at the end; nothing at all when stderr is not a terminal.
 */
function scanProgress(err: NodeJS.WriteStream, first: number, last: number) {
  const tty = err.isTTY === true;
  let answered = 0;
  let shown = false;
  const clear = () => {
    if (shown) err.write('\r\x1b[2K');
    shown = false;
  };
  return {
    above(line: string): void {
      clear();
      process.stdout.write(line);
    },
    tried(unit: number, answeredNow: boolean): void {
      if (answeredNow) answered++;
      if (!tty) return;
      err.write(`\r\x1b[2Kscanning unit ${unit} (${unit - first + 1}/${last - first + 1}, ${answered} answered)`);
      shown = true;
    },
    done: clear,
  };
}
