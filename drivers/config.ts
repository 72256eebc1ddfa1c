import { z } from 'zod';
import cron from 'node-cron';
import { configError } from './errors.js';
import { registerCount, VALUE_TYPES, WORD_ORDERS, type ValueType, type WordOrder } from './modbus/codec.js';
import { isBitTable, MAX_READ_BITS, MAX_READ_REGISTERS } from './modbus/pdu.js';
import { deadbandSchema, effectiveDeadband, hasBand, pointDeadbandSchema, type DeadbandRule } from './deadband.js';

/**
 * Driver configuration, validated eagerly: a bad document is refused as a whole with an
 * `EDGE_CONFIG_INVALID` whose message names the device and the point (DESIGN §7).
 */

const serialTransport = z
  .object({
    kind: z.literal('rtu'),
    /** Any path, including `/dev/serial/by-id/…` symlinks (resolved at every open). */
    path: z.string().min(1),
    baudRate: z.number().int().positive().default(9600),
    parity: z.enum(['none', 'even', 'odd']).default('none'),
    dataBits: z.union([z.literal(7), z.literal(8)]).default(8),
    stopBits: z.union([z.literal(1), z.literal(2)]).default(1),
    /** Quiet time between any two requests on this line (Telegraf's `pause_between_requests`). */
    pauseBetweenRequestsMs: z.number().int().min(0).max(10_000).default(0),
    /**
     * After a request that got no reply, the line stays quiet until this long after that request
     * was sent. A libmodbus RTU slave (3.1.x) that saw a request for another unit takes the next
     * frame on the line for that unit's reply and ignores it, for up to its response timeout
     * (500 ms by default): a request sent sooner after a dead unit's is swallowed. See drivers/README.md.
     */
    quietAfterNoReplyMs: z.number().int().min(0).max(10_000).default(600),
  })
  .strict();

const tcpTransport = z
  .object({
    kind: z.literal('tcp'),
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(502),
    /** Requests in flight at once on this connection (per host:port). */
    maxInFlight: z.number().int().min(1).max(16).default(1),
    /** Quiet time between any two requests on this connection (Telegraf's `pause_between_requests`). */
    pauseBetweenRequestsMs: z.number().int().min(0).max(10_000).default(0),
    /**
     * As on a serial line; off by default on TCP. Set it for a TCP-to-RTU gateway in front of
     * libmodbus slaves.
     */
    quietAfterNoReplyMs: z.number().int().min(0).max(10_000).default(0),
  })
  .strict();

const point = z
  .object({
    name: z.string().min(1),
    table: z.enum(['coil', 'discrete', 'holding', 'input']),
    address: z.number().int().min(0).max(65535),
    type: z.enum(VALUE_TYPES as [string, ...string[]]).optional(),
    order: z.enum(WORD_ORDERS as [string, ...string[]]).default('ABCD'),
    /** Registers the value spans; required for `string`, implied by the type otherwise. */
    count: z.number().int().min(1).optional(),
    scale: z.number().finite().default(1),
    offset: z.number().finite().default(0),
    unit: z.string().optional(),
    /** Whether `writePoint` may write it (coils and holding registers only); off unless said. */
    writable: z.boolean().default(false),
    /** Bounds a write must stay within, in engineering units (after scale and offset). */
    min: z.number().finite().optional(),
    max: z.number().finite().optional(),
    /** Write with FC15/FC16 even a single coil or register (devices without FC05/FC06). */
    writeMultiple: z.boolean().default(false),
    /** Report-by-exception (drivers/deadband.ts): replaces the driver's default; `false` forwards every reading. */
    deadband: pointDeadbandSchema.optional(),
  })
  .strict();

const device = z
  .object({
    name: z.string().min(1),
    transport: z.discriminatedUnion('kind', [serialTransport, tcpTransport]),
    unitId: z.number().int().min(0).max(255),
    /** Poll period in ms (fixed rate), or a node-cron expression — not both. */
    pollMs: z.number().int().min(1).optional(),
    cron: z.string().optional(),
    timeoutMs: z.number().int().min(10).max(60_000).default(1000),
    retries: z.number().int().min(0).max(5).default(1),
    /** Unused registers (or bits) allowed between two points read in one request. */
    maxGap: z.number().int().min(0).max(MAX_READ_REGISTERS).default(10),
    maxRegisters: z.number().int().min(1).max(MAX_READ_REGISTERS).default(MAX_READ_REGISTERS),
    maxBits: z.number().int().min(1).max(MAX_READ_BITS).default(MAX_READ_BITS),
    points: z.array(point).min(1),
  })
  .strict();

const driverSchema = z
  .object({
    name: z.string().min(1).default('modbus'),
    devices: z.array(device).min(1),
    /** Per-slave circuit breaker: after `failureThreshold` failed polls, back off. */
    breaker: z
      .object({
        failureThreshold: z.number().int().min(1).default(3),
        baseBackoffMs: z.number().int().min(1).default(1000),
        maxBackoffMs: z.number().int().min(1).default(30_000),
      })
      .strict()
      .default({ failureThreshold: 3, baseBackoffMs: 1000, maxBackoffMs: 30_000 }),
    /** Reopening a vanished serial port or a dropped TCP connection. */
    reopen: z
      .object({ baseMs: z.number().int().min(1).default(500), maxMs: z.number().int().min(1).default(30_000) })
      .strict()
      .default({ baseMs: 500, maxMs: 30_000 }),
    /** The deadband every point inherits unless it gives its own (drivers/deadband.ts). */
    deadband: deadbandSchema.optional(),
  })
  .strict();

export type ModbusDriverInput = z.input<typeof driverSchema>;
type Parsed = z.output<typeof driverSchema>;
export type SerialTransportConfig = z.output<typeof serialTransport>;
export type TcpTransportConfig = z.output<typeof tcpTransport>;
export type TransportConfig = SerialTransportConfig | TcpTransportConfig;

/** A point after validation: type and register count are always known. */
export interface PointConfig extends Omit<Parsed['devices'][number]['points'][number], 'type' | 'order' | 'count'> {
  type: ValueType;
  order: WordOrder;
  count: number;
}

export interface DeviceConfig extends Omit<Parsed['devices'][number], 'points'> {
  points: PointConfig[];
}

export interface ModbusDriverConfig extends Omit<Parsed, 'devices'> {
  devices: DeviceConfig[];
}

/** `device "d" point "p": ` for an issue path, using the raw input to find the names. */
function where(input: unknown, path: readonly PropertyKey[]): string {
  const parts: string[] = [];
  let node: unknown = input;
  let field: string[] = [];
  for (const key of path) {
    const next = (node as Record<PropertyKey, unknown> | undefined)?.[key];
    if (typeof key === 'number') {
      const name = (next as { name?: unknown } | undefined)?.name;
      const kind = field.at(-1) === 'points' ? 'point' : field.at(-1) === 'devices' ? 'device' : field.at(-1) === 'sensors' ? 'sensor' : (field.at(-1) ?? 'item');
      field = field.slice(0, -1);
      if (field.length) parts.push(field.join('.'));
      parts.push(typeof name === 'string' ? `${kind} "${name}"` : `${kind} #${key + 1}`);
      field = [];
    } else {
      field.push(String(key));
    }
    node = next;
  }
  const head = parts.join(' ');
  const tail = field.join('.');
  return [head, tail].filter(Boolean).join(' ');
}

function describeIssue(input: unknown, issue: z.core.$ZodIssue): string {
  const at = where(input, issue.path);
  let msg = issue.message;
  if (issue.code === 'invalid_value' && 'values' in issue) {
    const got = issue.path.reduce<unknown>((n, k) => (n as Record<PropertyKey, unknown> | undefined)?.[k], input);
    msg = `unknown value ${JSON.stringify(got)} (expected one of ${issue.values.map(String).join(', ')})`;
  } else if (issue.code === 'invalid_union' && issue.path.at(-1) === 'transport') {
    msg = 'transport.kind must be "rtu" or "tcp"';
  }
  return at ? `${at}: ${msg}` : msg;
}

/** What makes a point's write settings unusable (writable is for coils and holding registers). */
function writeProblems(pat: string, p: Parsed['devices'][number]['points'][number], type: ValueType): string[] {
  const out: string[] = [];
  const numeric = type !== 'bool' && type !== 'string';
  if (p.writable && p.table !== 'coil' && p.table !== 'holding') out.push(`${pat}: the ${p.table} table is read-only in Modbus; only coil and holding points can be writable`);
  if ((p.min !== undefined || p.max !== undefined) && !numeric) out.push(`${pat}: min/max apply to numbers, not to a ${type}`);
  if (p.min !== undefined && p.max !== undefined && p.min > p.max) out.push(`${pat}: min ${p.min} is above max ${p.max}`);
  if (p.writable && numeric && p.scale === 0) out.push(`${pat}: a writable point needs a non-zero scale (a write divides by it)`);
  return out;
}

/** Validates with `schema`; throws EDGE_CONFIG_INVALID naming every offending device/point. */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const res = schema.safeParse(input);
  if (!res.success) {
    const lines = res.error.issues.map((i) => describeIssue(input, i));
    throw configError(`${what} config invalid: ${lines.join('; ')}`, res.error);
  }
  return res.data;
}

/**
 * Validates a Modbus driver config, fills defaults and checks what a schema cannot: bit
 * tables hold only bools, strings give a register count, a value fits in one request
 * (≤125 registers), points do not overlap, devices on one serial line agree on its settings.
 */
export function parseModbusConfig(input: unknown): ModbusDriverConfig {
  const parsed = parseWith(driverSchema, input, 'modbus');
  const problems: string[] = [];
  const names = new Set<string>();
  const lines = new Map<string, { dev: string; key: string }>();
  const devices: DeviceConfig[] = parsed.devices.map((dev) => {
    const at = `device "${dev.name}"`;
    if (names.has(dev.name)) problems.push(`${at}: duplicate device name`);
    names.add(dev.name);
    if (dev.pollMs !== undefined && dev.cron !== undefined) problems.push(`${at}: give pollMs or cron, not both`);
    if (dev.cron !== undefined && !cron.validate(dev.cron)) problems.push(`${at}: cron "${dev.cron}" is not a valid cron expression`);
    const t = dev.transport;
    if (t.kind === 'rtu') {
      if (dev.unitId < 1 || dev.unitId > 247) problems.push(`${at}: unitId ${dev.unitId} must be 1..247 on a serial line`);
      const key = `${t.baudRate}/${t.parity}/${t.dataBits}/${t.stopBits}, pause ${t.pauseBetweenRequestsMs} ms, quiet after no reply ${t.quietAfterNoReplyMs} ms`;
      const prev = lines.get(t.path);
      if (prev && prev.key !== key) problems.push(`${at}: serial line ${t.path} settings ${key} differ from device "${prev.dev}" (${prev.key})`);
      if (!prev) lines.set(t.path, { dev: dev.name, key });
      const sameUnit = parsed.devices.find((d) => d !== dev && d.transport.kind === 'rtu' && d.transport.path === t.path && d.unitId === dev.unitId);
      if (sameUnit && parsed.devices.indexOf(sameUnit) < parsed.devices.indexOf(dev)) problems.push(`${at}: unit ${dev.unitId} on ${t.path} is already device "${sameUnit.name}"`);
    }
    const pointNames = new Set<string>();
    const points: PointConfig[] = dev.points.map((p) => {
      const pat = `${at} point "${p.name}"`;
      if (pointNames.has(p.name)) problems.push(`${pat}: duplicate point name`);
      pointNames.add(p.name);
      const bits = isBitTable(p.table);
      const type = (p.type ?? (bits ? 'bool' : 'uint16')) as PointConfig['type'];
      if (bits && type !== 'bool') problems.push(`${pat}: a ${p.table} holds bits, so type must be bool (got ${type})`);
      let count = bits ? 1 : registerCount(type, p.count ?? 0);
      if (type === 'string') {
        if (p.count === undefined) problems.push(`${pat}: a string needs count (registers)`);
        count = p.count ?? 1;
      } else if (p.count !== undefined && p.count !== count) {
        problems.push(`${pat}: count ${p.count} does not match type ${type} (${count} register${count > 1 ? 's' : ''})`);
      }
      if (!bits && count > MAX_READ_REGISTERS) problems.push(`${pat}: count ${count} is over the Modbus limit of ${MAX_READ_REGISTERS} registers per read`);
      if (!bits && count > dev.maxRegisters) problems.push(`${pat}: count ${count} is over this device's maxRegisters ${dev.maxRegisters}`);
      if (p.address + count > 65536) problems.push(`${pat}: address ${p.address} + count ${count} runs past 65535`);
      problems.push(...writeProblems(pat, p, type));
      if ((type === 'bool' || type === 'string') && hasBand(p.deadband)) problems.push(`${pat}: deadband absolute/percent apply to numbers; a ${type} is forwarded on change only (give just maxSilenceMs, or {})`);
      return { ...p, type, order: p.order as PointConfig['order'], count };
    });
    const byTable = new Map<string, PointConfig[]>();
    for (const p of points) byTable.set(p.table, [...(byTable.get(p.table) ?? []), p]);
    for (const [table, list] of byTable) {
      const sorted = [...list].sort((a, b) => a.address - b.address);
      for (let i = 1; i < sorted.length; i++) {
        const a = sorted[i - 1]!;
        const b = sorted[i]!;
        if (b.address < a.address + a.count) {
          problems.push(`${at} point "${b.name}": ${table} ${b.address}..${b.address + b.count - 1} overlaps point "${a.name}" (${a.address}..${a.address + a.count - 1})`);
        }
      }
    }
    return { ...dev, points, pollMs: dev.pollMs ?? (dev.cron === undefined ? 1000 : undefined) };
  });
  if (problems.length) throw configError(`modbus config invalid: ${problems.join('; ')}`);
  return { ...parsed, devices };
}

/** The deadband of every point that has one; a Modbus reading's source is its device's name. */
export function modbusDeadbands(cfg: ModbusDriverConfig): DeadbandRule[] {
  return cfg.devices.flatMap((d) =>
    d.points.flatMap((p) => {
      const spec = effectiveDeadband(p.deadband, cfg.deadband);
      return spec ? [{ source: d.name, point: p.name, spec }] : [];
    }),
  );
}

/** The Modbus driver's settings schema, for the JSON Schema cloud tooling gets (see registry.ts). */
export const modbusSettingsSchema = driverSchema;
