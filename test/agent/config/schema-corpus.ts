/**
 * Desired documents (as a tool pushes them: patches, some with IoT Hub's metadata) with what the
 * agent does with each. `cannot` marks a rule JSON Schema cannot express: the agent refuses, the
 * schema accepts, and the description of the node at `at` must state `note`.
 */
export interface CorpusCase {
  name: string;
  doc: Record<string, unknown>;
  /** Settings of the local config file the document is laid over (default: none beyond hub and dataDir). */
  file?: Record<string, unknown>;
  accepted: boolean;
  /** `says`: the agent's refusal, to be sure it refuses for this rule. */
  cannot?: { at: string; note: string; says: RegExp };
}

const tcp = { kind: 'tcp', host: '10.0.0.5' };
const modbus = (device: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  drivers: [{ type: 'modbus', name: 'plc', devices: [{ name: 'boiler', transport: tcp, unitId: 1, points: [{ name: 'temp', table: 'holding', address: 0 }], ...device }], ...extra }],
});
const point = (p: Record<string, unknown>) => modbus({ points: [{ name: 'v', table: 'holding', address: 0, ...p }] });
const sensor = (s: Record<string, unknown>) => ({ drivers: [{ type: 'serial-line', name: 'line', sensors: [{ name: 's1', path: '/dev/ttyS1', parser: { kind: 'csv', columns: [{ name: 'a', index: 0 }] }, ...s }] }] });

export const CORPUS: readonly CorpusCase[] = [
  // The examples.
  { name: 'a "holdings" table', doc: point({ table: 'holdings' }), accepted: false },
  { name: 'a modbus driver without devices', doc: { drivers: [{ type: 'modbus', name: 'plc' }] }, accepted: false },
  { name: 'a modbus driver with an empty device list', doc: { drivers: [{ type: 'modbus', name: 'plc', devices: [] }] }, accepted: false },
  { name: 'an unknown pollMS', doc: modbus({ pollMS: 1000 }), accepted: false },
  { name: 'a garbage serial-line driver', doc: { drivers: [{ type: 'serial-line', sensors: 'COM1', baud: 'fast' }] }, accepted: false },
  {
    name: 'retryInitialMs 60000 with retryMaxMs 1000',
    doc: { forwarding: { retryInitialMs: 60_000, retryMaxMs: 1000 } },
    accepted: false,
    cannot: { at: 'forwarding', note: 'retryInitialMs must not exceed retryMaxMs', says: /retryInitialMs must not exceed retryMaxMs/ },
  },
  {
    name: 'a document as IoT Hub returns it, with $version and $metadata',
    doc: { $version: 7, $metadata: { $lastUpdated: '2026-12-01T10:00:00.000Z', $lastUpdatedVersion: 7, log: { $lastUpdated: '2026-12-01T10:00:00.000Z', $lastUpdatedVersion: 7 } }, log: { level: 'debug' }, forwarding: { lingerMs: 500 } },
    accepted: true,
  },

  // Good documents, every driver type with most of its fields.
  { name: 'an empty document', doc: {}, accepted: true },
  {
    name: 'a modbus TCP driver with every field',
    doc: modbus(
      {
        transport: { kind: 'tcp', host: '10.0.0.5', port: 1502, maxInFlight: 2 },
        unitId: 0,
        pollMs: 500,
        timeoutMs: 300,
        retries: 2,
        maxGap: 4,
        maxRegisters: 100,
        maxBits: 800,
        points: [
          { name: 'temp', table: 'holding', address: 0, type: 'float32', order: 'CDAB', count: 2, scale: 0.1, offset: -40, unit: 'C' },
          { name: 'total', table: 'input', address: 10, type: 'float64' },
          { name: 'tag', table: 'holding', address: 20, type: 'string', count: 8 },
          { name: 'run', table: 'coil', address: 3, type: 'bool', count: 1 },
          { name: 'alarm', table: 'discrete', address: 4 },
        ],
      },
      { breaker: { failureThreshold: 5, baseBackoffMs: 500, maxBackoffMs: 10_000 }, reopen: { baseMs: 100, maxMs: 5000 } },
    ),
    accepted: true,
  },
  {
    name: 'a modbus RTU driver polled by cron',
    doc: modbus({ transport: { kind: 'rtu', path: '/dev/ttyUSB0', baudRate: 19200, parity: 'even', dataBits: 8, stopBits: 1 }, unitId: 7, cron: '*/5 * * * * *' }),
    accepted: true,
  },
  {
    name: 'serial-line sensors: NMEA, regex, JSON lines',
    doc: {
      drivers: [
        {
          type: 'serial-line',
          name: 'weather',
          reopen: { baseMs: 200, maxMs: 2000 },
          highWater: 500,
          sensors: [
            { name: 'wind', path: '/dev/ttyS1', baudRate: 4800, parser: { kind: 'nmea', sentences: ['WIMWV'], fields: { WIMWV: { angle: { index: 1 }, speed: { index: 3 } } }, requireChecksum: true } },
            { name: 'probe', path: '/dev/ttyS2', delimiter: '\r\n', maxLineLength: 256, clockOffsetMs: -20, units: { temp: 'C' }, parser: { kind: 'regex', pattern: '^T=(?<temp>[-0-9.]+)$', types: { temp: 'number' }, onMismatch: 'ignore' } },
            { name: 'meter', path: '/dev/ttyS3', parser: { kind: 'json', fields: { kwh: 'energy.total' }, timestamp: { path: 'ts', format: 'epoch-ms' } } },
          ],
        },
      ],
    },
    accepted: true,
  },
  { name: 'a synthetic driver', doc: { drivers: [{ type: 'synthetic', name: 'sim', source: 'sim-1', intervalMs: 100, points: [{ name: 'p', unit: 'C', periodMs: 60_000, amplitude: 2, offset: 20 }] }] }, accepted: true },
  {
    name: 'analytics with inputs and an inline reference table',
    doc: {
      analytics: {
        queries: [{ name: 'limits', query: 'SELECT i.source, i.value, t.maxValue FROM boilers i JOIN thresholds t ON i.point = t.point' }],
        inputs: { boilers: { sources: ['boiler-1'], points: ['temp'] } },
        reference: { thresholds: { rows: [{ point: 'temp', maxValue: 90 }] } },
        tolerances: { lateArrivalMs: 10_000, policy: 'drop' },
      },
    },
    accepted: true,
  },
  { name: 'a patch whose nulls take settings back to the file', doc: { forwarding: { lingerMs: null }, log: null, analytics: { inputs: { boilers: null } } }, accepted: true },
  { name: 'retryInitialMs below retryMaxMs', doc: { forwarding: { retryInitialMs: 500, retryMaxMs: 1000 } }, accepted: true },
  { name: 'the thin linger off', doc: { forwarding: { thinLingerMs: 0 } }, accepted: true },
  { name: 'the thin linger at its 10-minute bound', doc: { forwarding: { thinLingerMs: 600_000 } }, accepted: true },

  // Refused by both.
  { name: 'the hub section (the file\'s alone)', doc: { hub: { connectionString: 'HostName=evil;DeviceId=x;SharedAccessKey=AA==' } }, accepted: false },
  { name: 'an unknown section', doc: { colour: 'red' }, accepted: false },
  { name: 'a misspelt key', doc: { forwarding: { lingerMS: 5 } }, accepted: false },
  { name: 'a number as a string', doc: { forwarding: { lingerMs: 'fast' } }, accepted: false },
  { name: 'a value out of bounds', doc: { forwarding: { maxInFlight: 0 } }, accepted: false },
  { name: 'a thin linger of more than 10 minutes', doc: { forwarding: { thinLingerMs: 600_001 } }, accepted: false },
  { name: 'an unknown log level', doc: { log: { level: 'loud' } }, accepted: false },
  { name: 'maxDesiredBytes over IoT Hub\'s 32 KB', doc: { twin: { maxDesiredBytes: 65_536 } }, accepted: false },
  { name: 'a null inside an array', doc: { drivers: [null] }, accepted: false },
  { name: 'an unknown driver type', doc: { drivers: [{ type: 'opcua', name: 'x' }] }, accepted: false },
  { name: 'a device without points', doc: modbus({ points: [] }), accepted: false },
  { name: 'an unknown transport kind', doc: modbus({ transport: { kind: 'udp', host: 'x' } }), accepted: false },
  { name: 'a TCP port out of range', doc: modbus({ transport: { kind: 'tcp', host: 'x', port: 70_000 } }), accepted: false },
  { name: 'an unknown parity', doc: modbus({ transport: { kind: 'rtu', path: '/dev/ttyUSB0', parity: 'mark' }, unitId: 1 }), accepted: false },
  { name: 'both pollMs and cron', doc: modbus({ pollMs: 1000, cron: '* * * * *' }), accepted: false },
  { name: 'unit 0 on a serial line', doc: modbus({ transport: { kind: 'rtu', path: '/dev/ttyUSB0' }, unitId: 0 }), accepted: false },
  { name: 'unit 248 on a serial line', doc: modbus({ transport: { kind: 'rtu', path: '/dev/ttyUSB0' }, unitId: 248 }), accepted: false },
  { name: 'a coil read as float32', doc: point({ table: 'coil', type: 'float32' }), accepted: false },
  { name: 'a string without its register count', doc: point({ type: 'string' }), accepted: false },
  { name: 'a uint32 with count 1', doc: point({ type: 'uint32', count: 1 }), accepted: false },
  { name: 'a point of the default type with count 2', doc: point({ count: 2 }), accepted: false },
  { name: 'a string over one read (126 registers)', doc: point({ type: 'string', count: 126 }), accepted: false },
  { name: 'an unknown word order', doc: point({ type: 'float32', order: 'ABDC' }), accepted: false },
  { name: 'a serial-line sensor without a parser', doc: { drivers: [{ type: 'serial-line', sensors: [{ name: 's', path: '/dev/ttyS1' }] }] }, accepted: false },
  { name: 'an unknown parser kind', doc: sensor({ parser: { kind: 'xml' } }), accepted: false },
  { name: 'a line length below 16', doc: sensor({ maxLineLength: 8 }), accepted: false },
  { name: 'a reference file named by the twin', doc: { analytics: { reference: { secrets: { file: '/etc/shadow', format: 'csv' } } } }, accepted: false },
  {
    name: 'an input that selects nothing',
    doc: { analytics: { inputs: { boilers: {} } } },
    accepted: false,
    cannot: { at: 'analytics.inputs.*', note: 'an input selects readings by at least one of drivers, sources and points', says: /give at least one/ },
  },
  // Objects merge over the file's: what the document lacks the file may give.
  { name: 'an input the file selects, adjusted from the twin', doc: { analytics: { inputs: { boilers: { points: ['temp'] } } } }, file: { analytics: { inputs: { boilers: { sources: ['b1'] } } } }, accepted: true },
  { name: 'an empty input over one the file selects', doc: { analytics: { inputs: { boilers: {} } } }, file: { analytics: { inputs: { boilers: { sources: ['b1'] } } } }, accepted: true },
  {
    name: "a reference file's poll period and format set from the twin",
    doc: { analytics: { reference: { limits: { pollMs: 1000, format: 'csv' } } } },
    file: { analytics: { reference: { limits: { file: '/etc/edge-agent/limits.txt', format: 'json' } } } },
    accepted: true,
  },
  {
    name: 'a reference table with neither file nor rows',
    doc: { analytics: { reference: { limits: { pollMs: 1000 } } } },
    accepted: false,
    cannot: { at: 'analytics.reference.*', note: 'a table has exactly one of file and rows', says: /give exactly one/ },
  },
  { name: 'an input name that is no SQL identifier', doc: { analytics: { inputs: { 'boiler-room': { sources: ['b'] } } } }, accepted: false },
  { name: 'an unknown late policy', doc: { analytics: { tolerances: { policy: 'ignore' } } }, accepted: false },

  // Refused by the agent for a rule JSON Schema cannot say: stated in the description.
  { name: 'reconnectInitialMs above reconnectMaxMs', doc: { connection: { reconnectInitialMs: 5000, reconnectMaxMs: 1000 } }, accepted: false, cannot: { at: 'connection', note: 'reconnectInitialMs must not exceed reconnectMaxMs', says: /reconnectInitialMs must not exceed/ } },
  {
    name: 'two drivers of one name',
    doc: { drivers: [{ type: 'synthetic', name: 'sim', source: 'a', points: [{ name: 'p' }] }, { type: 'synthetic', name: 'sim', source: 'b', points: [{ name: 'p' }] }] },
    accepted: false,
    cannot: { at: 'drivers', note: 'Driver names must be unique', says: /driver names must be unique/ },
  },
  { name: 'a query that does not compile', doc: { analytics: { queries: [{ name: 'q', query: 'SELEC point FROM readings' }] } }, accepted: false, cannot: { at: 'analytics.queries', note: 'each query must compile', says: /expected SELECT/ } },
  {
    name: 'two queries of one name',
    doc: { analytics: { queries: [{ name: 'q', query: 'SELECT point FROM readings' }, { name: 'q', query: 'SELECT value FROM readings' }] } },
    accepted: false,
    cannot: { at: 'analytics.queries', note: 'Query names must be unique', says: /query names must be unique/ },
  },
  {
    name: 'an input and a reference table of one name (but for case)',
    doc: { analytics: { inputs: { sites: { sources: ['a'] } }, reference: { Sites: { rows: [] } } } },
    accepted: false,
    cannot: { at: 'analytics', note: 'may not repeat across inputs and reference, compared without case', says: /already the name of an input/ },
  },
  {
    name: 'two devices of one name',
    doc: { drivers: [{ type: 'modbus', name: 'plc', devices: ['a', 'b'].map((host) => ({ name: 'boiler', transport: { kind: 'tcp', host }, unitId: 1, points: [{ name: 't', table: 'holding', address: 0 }] })) }] },
    accepted: false,
    cannot: { at: 'drivers[modbus]', note: 'Device names must be unique', says: /duplicate device name/ },
  },
  {
    name: 'two devices on one serial line at different baud rates',
    doc: {
      drivers: [
        {
          type: 'modbus',
          name: 'plc',
          devices: [9600, 19200].map((baudRate, i) => ({ name: `d${i}`, transport: { kind: 'rtu', path: '/dev/ttyUSB0', baudRate }, unitId: i + 1, points: [{ name: 't', table: 'holding', address: 0 }] })),
        },
      ],
    },
    accepted: false,
    cannot: { at: 'drivers[modbus]', note: 'must agree on baudRate, parity, dataBits and stopBits', says: /settings 19200.* differ from device/ },
  },
  { name: 'a cron expression that is none', doc: modbus({ cron: 'every minute' }), accepted: false, cannot: { at: 'drivers[modbus].devices[]', note: 'cron must be a valid cron expression', says: /is not a valid cron expression/ } },
  {
    name: 'overlapping points',
    doc: modbus({ points: [{ name: 'a', table: 'holding', address: 0, type: 'float32' }, { name: 'b', table: 'holding', address: 1 }] }),
    accepted: false,
    cannot: { at: 'drivers[modbus].devices[]', note: 'points of one table may not overlap', says: /overlaps point/ },
  },
  { name: 'a float32 at address 65535', doc: point({ address: 65_535, type: 'float32' }), accepted: false, cannot: { at: 'drivers[modbus].devices[].points[]', note: 'address + count may not pass 65536', says: /runs past 65535/ } },
  {
    name: 'two sensors on one path',
    doc: { drivers: [{ type: 'serial-line', sensors: ['a', 'b'].map((name) => ({ name, path: '/dev/ttyS1', parser: { kind: 'csv', columns: [{ name: 'x', index: 0 }] } })) }] },
    accepted: false,
    cannot: { at: 'drivers[serial-line]', note: 'Sensor names and sensor paths must be unique', says: /is already sensor/ },
  },
  { name: 'a regex without named groups', doc: sensor({ parser: { kind: 'regex', pattern: '^T=([0-9]+)$' } }), accepted: false, cannot: { at: 'drivers[serial-line].sensors[]', note: 'must compile and have at least one named group', says: /has no named groups/ } },
];
