import type { Command } from 'commander';
import type { ProbeReadOptions, ProbeScanOptions, ProbeTarget } from '../../../drivers/index.js';
import { parseDuration } from '../duration.js';
import { usageError } from '../exit.js';

interface TargetFlags {
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

function target(f: TargetFlags): ProbeTarget {
  const t: ProbeTarget = {};
  if (f.port !== undefined) t.port = f.port;
  if (f.host !== undefined) t.host = f.host;
  if (f.baud !== undefined) t.baudRate = int('--baud', f.baud)!;
  if (f.parity !== undefined) t.parity = f.parity as ProbeTarget['parity'];
  if (f.dataBits !== undefined) t.dataBits = int('--data-bits', f.dataBits) as 7 | 8;
  if (f.stopBits !== undefined) t.stopBits = int('--stop-bits', f.stopBits) as 1 | 2;
  if (f.tcpPort !== undefined) t.tcpPort = int('--tcp-port', f.tcpPort)!;
  if (f.timeout !== undefined) t.timeoutMs = parseDuration(f.timeout, '--timeout', { min: 1 });
  return t;
}

function withTarget(cmd: Command, defaultTimeout: string): Command {
  return cmd
    .option('--port <path>', 'serial port of an RTU bus (e.g. /dev/ttyUSB0, /dev/serial/by-id/…)')
    .option('--baud <n>', 'baud rate (RTU, default 9600)')
    .option('--parity <p>', 'none | even | odd (RTU, default none)')
    .option('--data-bits <n>', '7 | 8 (RTU, default 8)')
    .option('--stop-bits <n>', '1 | 2 (RTU, default 1)')
    .option('--host <host>', 'Modbus TCP host')
    .option('--tcp-port <n>', 'Modbus TCP port (default 502)')
    .option('--timeout <duration>', `reply timeout per request (default ${defaultTimeout}; 300ms, 2s; a bare number is ms)`)
    .option('--json', 'print JSON instead of text');
}

/**
 * `edge-agent modbus read|scan`: the commissioning probe. Reads registers from a real device,
 * or lists the unit ids that answer on a bus, without a running agent.
 */
export function registerModbus(program: Command): void {
  const modbus = program.command('modbus').description('commissioning probe: read a Modbus device (RTU or TCP) without a running agent');

  withTarget(
    modbus
      .command('read')
      .description('read registers or bits and print the decoded values')
      .requiredOption('--unit <id>', 'unit (slave) id')
      .option('--table <table>', 'holding | input | coil | discrete', 'holding')
      .requiredOption('--address <n>', 'first address (0-based, as on the wire)')
      .option('--count <n>', 'number of values (for --type string: registers)', '1')
      .option('--type <type>', 'bool | int16 | uint16 | int32 | uint32 | float32 | float64 | string (default uint16, bool for bits)')
      .option('--order <order>', 'byte/word order ABCD | CDAB | BADC | DCBA (default ABCD)'),
    '1000',
  ).action(async (f: ReadFlags) => {
    const o: ProbeReadOptions = {
      ...target(f),
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
    modbus
      .command('scan')
      .description('list the unit ids that answer (reads holding register 0 of each; an exception reply counts as an answer)')
      .option('--from <id>', 'first unit id (default 1)')
      .option('--to <id>', 'last unit id (default 247 on serial, 255 on TCP)'),
    '100',
  ).action(async (f: ScanFlags) => {
    const o: ProbeScanOptions = { ...target(f) };
    const from = int('--from', f.from);
    const to = int('--to', f.to);
    if (from !== undefined) o.from = from;
    if (to !== undefined) o.to = to;
    const { probeScan } = await import('../../../drivers/index.js');
    const found = await probeScan(o);
    if (f.json) {
      process.stdout.write(JSON.stringify({ units: found }) + '\n');
      return;
    }
    for (const a of found) process.stdout.write(`unit ${a.unit}: ${a.reply === 'ok' ? 'answers' : `answers with exception ${a.reply.exception} (${a.reply.name})`}\n`);
    process.stdout.write(found.length ? `${found.length} unit${found.length > 1 ? 's' : ''} answer\n` : 'no unit answered\n');
  });
}
