import path from 'node:path';
import { z } from 'zod';
import { driverSectionSchema } from '../../drivers/registry.js';
import { errorMessage } from '../core/errors.js';
import { compileQuery } from '../analytics/index.js';

/**
 * The agent's configuration. Unknown keys are refused rather than ignored: a typo in a field
 * name must not silently fall back to a default on a box nobody can visit.
 */

/** One `drivers[]` section: drivers/registry.ts lists the types and owns their settings. */
export const driverConfigSchema = driverSectionSchema;

const durationMs = z.number().int().min(0);

/** IoT Hub connection. File-only: a twin push must never be able to cut the box off its hub. */
const hubSchema = z.strictObject({
  /** The device's connection string; absent when `provisioning` (DPS) assigns the hub. */
  connectionString: z.string().min(1).optional(),
  /** PEM file of a CA to trust besides the system's (the local emulator's). */
  caFile: z.string().optional(),
  /**
   * SAS tokens are made by the agent from the device key and renewed by reconnecting before they
   * expire. Short lives limit what a leaked token is worth; renewal costs one reconnect.
   */
  sas: z
    .strictObject({
      tokenTtlSeconds: z.number().int().min(2).max(365 * 24 * 3600).default(3600),
      renewBeforeSeconds: z.number().int().min(1).default(900),
    })
    .refine((s) => s.renewBeforeSeconds < s.tokenTtlSeconds, { message: 'renewBeforeSeconds must be less than tokenTtlSeconds', path: ['renewBeforeSeconds'] })
    .prefault({}),
  /** X.509 client certificate instead of SAS (connection string with `x509=true`). */
  x509: z.strictObject({ certFile: z.string().min(1), keyFile: z.string().min(1), passphrase: z.string().optional() }).optional(),
}).prefault({});

/**
 * Zero-touch provisioning through the Device Provisioning Service, instead of a connection
 * string. File-only, like `hub`. Exactly one attestation: the device's own `symmetricKey`
 * (individual enrollment), the enrollment group's `groupKey` (the device key is derived from
 * it), or an `x509` certificate (CN = registrationId), which then also authenticates to the hub.
 */
const provisioningSchema = z
  .strictObject({
    idScope: z.string().min(1),
    registrationId: z.string().regex(/^[A-Za-z0-9.\-_]{1,128}$/, 'a registration id is up to 128 letters, digits, ".", "-" or "_"'),
    globalEndpoint: z.string().min(1).default('global.azure-devices-provisioning.net'),
    symmetricKey: z.string().min(1).optional(),
    groupKey: z.string().min(1).optional(),
    x509: z.strictObject({ certFile: z.string().min(1), keyFile: z.string().min(1), passphrase: z.string().optional() }).optional(),
    /** PEM file of a CA to trust for DPS (and for the assigned hub when `hub.caFile` is not given). */
    caFile: z.string().optional(),
    /** Bound on one registration, polls and throttling waits included. */
    timeoutMs: z.number().int().min(1000).default(120_000),
    /** Every connect failing with "no such host"/"connection refused" this long means the hub is gone: register again. */
    hubGoneAfterMs: z.number().int().min(1000).default(30 * 60_000),
    /** Least spacing of registrations the agent decides on itself (a `reprovision` method is not held back). */
    minIntervalMs: z.number().int().min(0).default(5 * 60_000),
  })
  .refine((p) => [p.symmetricKey, p.groupKey, p.x509].filter((v) => v !== undefined).length === 1, {
    message: 'give exactly one of "symmetricKey" (individual enrollment), "groupKey" (enrollment group) or "x509" {certFile, keyFile}',
  });

/**
 * The connection supervisor. The SDK's own keep-alive can take 1.5× keepAliveSeconds to notice a
 * dead link and nothing notices a half-open one while no message is pending; the liveness probe
 * (a twin GET) bounds detection at `livenessIntervalMs + livenessTimeoutMs`.
 */
const connectionSchema = z
  .strictObject({
    livenessIntervalMs: z.number().int().min(100).default(30_000),
    livenessTimeoutMs: z.number().int().min(100).default(10_000),
    reconnectInitialMs: z.number().int().min(10).default(1000),
    reconnectMaxMs: z.number().int().min(10).default(60_000),
  })
  .refine((c) => c.reconnectInitialMs <= c.reconnectMaxMs, { message: 'reconnectInitialMs must not exceed reconnectMaxMs (the backoff would start above its ceiling)', path: ['reconnectInitialMs'] })
  .prefault({});

const querySchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]{0,63}$/, 'a query name is a letter or _ then up to 63 letters, digits, _ or -'),
  /** ASA-style SQL; it must compile here (with the configured reference inputs), so a query that does not parse is refused up front. */
  query: z.string().min(1).max(16 * 1024),
  /** The sending class of this query's results: `alarm` goes before everything, `reading` after other results. Default `result`. */
  priority: z.enum(['alarm', 'result', 'reading']).optional(),
});

/** Input and reference names are written in FROM/JOIN, so they must be plain SQL identifiers. */
const inputName = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const inputNameMessage = 'is not a usable input name: a letter or _ then up to 63 letters, digits or _ (it is written in FROM or JOIN)';

/**
 * A named input (`FROM boilers`): the readings of the listed sources and/or points; with both,
 * a reading must match both lists. Names are compared exactly (case matters), as readings carry them.
 */
const inputSelectionSchema = z
  .strictObject({
    /** Source devices: a Modbus device's name, a serial sensor's name, a synthetic driver's `source`. */
    sources: z.array(z.string().min(1)).min(1).optional(),
    /** Point names (any source unless `sources` narrows it). */
    points: z.array(z.string().min(1)).min(1).optional(),
    /** Drivers by their configured name (the journal records which driver read each reading). */
    drivers: z.array(z.string().min(1)).min(1).optional(),
  })
  .refine((s) => s.sources !== undefined || s.points !== undefined || s.drivers !== undefined, { message: 'an input selects readings by "drivers", "sources" and/or "points": give at least one' });

/**
 * A reference input (`JOIN thresholds t ON …`): a local CSV/JSON file, reloaded when it changes,
 * or a table given inline (the twin's desired properties). Exactly one of `file` and `rows`.
 */
const referenceSchema = z
  .strictObject({
    /** Absolute path of a `.csv` (header line; every value is text) or `.json` (an array of records) file. */
    file: z.string().min(1).optional(),
    /** The file's format; by default its extension (.csv or .json). */
    format: z.enum(['csv', 'json']).optional(),
    /** How often the file is checked for a change (its size, times and inode), in ms of agent clock. */
    pollMs: z.number().int().min(100).max(3_600_000).default(5_000),
    /** The table itself: one record per row. */
    rows: z.array(z.record(z.string(), z.unknown())).max(100_000).optional(),
  })
  .superRefine((r, ctx) => {
    if ((r.file === undefined) === (r.rows === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'a reference table is either a file ("file": "/path/table.csv") or inline ("rows": [ {…}, … ]): give exactly one' });
      return;
    }
    if (r.file === undefined) {
      if (r.format !== undefined) ctx.addIssue({ code: 'custom', path: ['format'], message: '"format" applies to a file; inline rows have none' });
      return;
    }
    if (!path.isAbsolute(r.file)) ctx.addIssue({ code: 'custom', path: ['file'], message: `'${r.file}' is not an absolute path (the agent's working directory is not the config file's): give the full path` });
    const ext = path.extname(r.file).toLowerCase();
    if (r.format === undefined && ext !== '.csv' && ext !== '.json') {
      ctx.addIssue({ code: 'custom', path: ['format'], message: `cannot tell the format of '${r.file}' from its name: add "format": "csv" or "json"` });
    }
  });

const analyticsSchema = z
  .strictObject({
    queries: z
      .array(querySchema)
      .max(32)
      .default([])
      .refine((qs) => new Set(qs.map((q) => q.name)).size === qs.length, { message: 'query names must be unique' }),
    /** Named inputs for FROM: `{ "boilers": { "sources": ["boiler-1", "boiler-2"] } }`. */
    inputs: z.record(z.string(), inputSelectionSchema).default({}),
    /** Reference data for JOIN, by input name: `{ "thresholds": { "file": "/etc/edge-agent/thresholds.csv" } }`. */
    reference: z.record(z.string(), referenceSchema).default({}),
    /** DESIGN §4's tolerances, ASA's defaults. */
    tolerances: z
      .strictObject({
        lateArrivalMs: durationMs.default(5_000),
        outOfOrderMs: durationMs.default(0),
        policy: z.enum(['adjust', 'drop', 'revise']).default('adjust'),
        allowedLatenessMs: durationMs.default(0),
      })
      .prefault({}),
    maxStateEntries: z.number().int().min(1000).max(10_000_000).default(1_000_000),
    /** Forward raw readings as well as results (costly: every reading is billed). */
    forwardReadings: z.boolean().default(true),
  })
  .superRefine(checkAnalytics)
  .prefault({});

/** Names are matched without case in queries; each query must compile against the reference inputs given. */
function checkAnalytics(a: { queries: Array<{ name: string; query: string }>; inputs: Record<string, unknown>; reference: Record<string, unknown> }, ctx: z.RefinementCtx): void {
  const seen = new Map<string, string>();
  for (const [section, names] of [['inputs', Object.keys(a.inputs)], ['reference', Object.keys(a.reference)]] as const) {
    for (const n of names) {
      // Checked here, not as a record key schema: zod would only say "Invalid key in record".
      if (!inputName.test(n)) ctx.addIssue({ code: 'custom', path: [section, n], message: `'${n}' ${inputNameMessage}` });
      const other = seen.get(n.toLowerCase());
      if (other !== undefined) ctx.addIssue({ code: 'custom', path: [section, n], message: `'${n}' is already the name of ${other} (names are compared without case, as in a query)` });
      else seen.set(n.toLowerCase(), `${section === 'inputs' ? 'an input' : 'a reference table'} ('${n}')`);
    }
  }
  const referenceInputs = Object.keys(a.reference);
  a.queries.forEach((q, i) => {
    try {
      compileQuery(q.query, q.name, { referenceInputs });
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: ['queries', i, 'query'], message: errorMessage(err) });
    }
  });
}

/** DESIGN §5's bounded disk: quota, eviction order (raw before results, oldest first), retention of sent records. */
const storageFields = z.strictObject({
  /** Logical bytes the buffer may hold (journal + unsent + retained), before eviction. */
  quotaBytes: z.number().int().min(1024 * 1024).default(1024 * 1024 * 1024),
  /** Unsent records older than this (by application time) are evicted; 0 keeps them forever. */
  ttlMs: z.number().int().min(0).default(0),
  /** Acknowledged records kept for resend requests from the cloud. */
  retentionMs: z.number().int().min(0).default(24 * 3600 * 1000),
  /**
   * LevelDB's memtable: writes gather here before they go to a table file. 2 MiB keeps a small
   * gateway's memory flat; a large one (5,000 points/s) writes 44 % less to its flash and spends
   * ~8 % less of a core with 8 MiB, for ~6–14 MB more RSS (BENCHMARKS.md, plant). Read when the
   * buffer opens, from the local file only.
   */
  writeBufferBytes: z.number().int().min(1024 * 1024).max(64 * 1024 * 1024).default(2 * 1024 * 1024),
});
const storageSchema = storageFields.prefault({});

/** Reported properties. IoT Hub S1 allows 50 twin updates/s per hub: a device reports rarely. */
const twinSchema = z
  .strictObject({
    /** Read from the local file only (a twin could otherwise switch itself off for good). */
    enabled: z.boolean().default(true),
    /** Least spacing between two reported-property updates; changes in between are coalesced. */
    reportMinIntervalMs: z.number().int().min(100).default(5_000),
    /** Health summary refresh. 1,000 devices at 5 min make 3.3 updates/s on the hub. */
    healthIntervalMs: z.number().int().min(1000).default(300_000),
    /** Largest desired document accepted (IoT Hub's own limit is 32 KB). */
    maxDesiredBytes: z.number().int().min(256).max(32 * 1024).default(32 * 1024),
  })
  .prefault({});

export const forwardingSchema = z
  .strictObject({
    maxMessageBytes: z.number().int().min(4096).max(256 * 1024).default(64 * 1024),
    /** How long a live message not yet full may wait for more records (latency traded for fuller 4 KB units). */
    lingerMs: z.number().int().min(0).default(1000),
    /**
     * How long a live message still well under one billed 4 KB unit (under 90 % of it) may wait
     * for more records; never less than `lingerMs`. Default 10 × `lingerMs`, at most 10 s (10 s
     * at the default `lingerMs`; 0 with `lingerMs: 0`; `lingerMs` itself when that is longer). IoT Hub bills each message at least one unit, so a thin stream (deadband,
     * a few results) sent every `lingerMs` pays a unit per message for a few hundred bytes: with
     * deadband on 500 points, 1.12 units per 1,000 readings at 1 s, 0.18 at 10 s (BENCHMARKS.md).
     * The trade is latency: a reading of a thin stream reaches the hub up to this much later.
     * A message that fills its unit goes at once; alarms (and queries with `priority: "alarm"`)
     * never wait; a flush or shutdown sends at once. 0 turns it off (thin messages wait
     * `lingerMs` like the rest). At most 10 minutes: a reading held longer is stale, not cheap.
     */
    thinLingerMs: z.number().int().min(0).max(600_000).optional(),
    maxInFlight: z.number().int().min(1).max(64).default(4),
    sendTimeoutMs: z.number().int().positive().default(30_000),
    connectTimeoutMs: z.number().int().positive().default(30_000),
    /** MQTT keep-alive; at most 60 s so a dead link is noticed in minutes, not IoT Hub's 20. */
    keepAliveSeconds: z.number().int().min(1).max(60).default(60),
    retryInitialMs: z.number().int().positive().default(1000),
    retryMaxMs: z.number().int().positive().default(60_000),
    /** Share of messages kept for draining a backlog while live data flows. */
    backlogShare: z.number().gt(0).max(1).default(0.25),
    /** gzip message bodies; IoT Hub bills the compressed size. */
    compress: z.boolean().default(false),
    /**
     * A long backlog leaves as gzip files through IoT Hub file upload, billed per file instead of
     * per 4 KB (agent/backlog-files/README.md). Off unless enabled: file upload needs a storage
     * account linked to the hub.
     */
    backlogFiles: z
      .strictObject({
        enabled: z.boolean().default(false),
        /** Files start once more records than this wait unsent… */
        afterRecords: z.number().int().min(1).default(100_000),
        /** …or once the oldest unsent record's application time is older than this. */
        afterAgeMs: z.number().int().positive().default(6 * 3_600_000),
        /** Records per file at most (one kind per file). */
        fileRecords: z.number().int().min(1).max(1_000_000).default(250_000),
        /** JSON bytes per file at most, before gzip: what the agent holds in memory for one file. */
        maxFileBytes: z.number().int().min(64 * 1024).max(256 * 1024 * 1024).default(32 * 1024 * 1024),
      })
      .prefault({}),
  })
  .refine((f) => f.retryInitialMs <= f.retryMaxMs, { message: 'retryInitialMs must not exceed retryMaxMs (the backoff would start above its ceiling)', path: ['retryInitialMs'] })
  .prefault({});

const logSchema = z.strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).prefault({});

/**
 * Local faces for the technician: the diagnostics socket (`edge-agent status|sensors|…`) and an
 * optional Prometheus endpoint. File-only: the twin must not open ports on the gateway.
 */
const diagnosticsSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** Default: $RUNTIME_DIRECTORY/diagnostics.sock (systemd's RuntimeDirectory), else /run/edge-agent/diagnostics.sock. */
    socketPath: z.string().min(1).optional(),
    /** Group that owns the socket (mode 0660); default: the service's own group. */
    group: z.string().min(1).optional(),
    /** Prometheus text exposition on 127.0.0.1; off unless a port is given. */
    // Any address of this host (0.0.0.0, ::, a LAN address) or localhost; the endpoint has no authentication, so loopback stays the default.
    prometheus: z.strictObject({ port: z.number().int().min(0).max(65535), host: z.union([z.ipv4(), z.ipv6(), z.literal('localhost')]).default('127.0.0.1') }).optional(),
  })
  .prefault({});

/** Sections the twin's desired properties may set; the rest is the local file's alone. */
export const TWIN_SECTIONS = ['drivers', 'analytics', 'forwarding', 'storage', 'connection', 'twin', 'log'] as const;
export type TwinSection = (typeof TWIN_SECTIONS)[number];

export const agentConfigSchema = z.strictObject({
  hub: hubSchema,
  provisioning: provisioningSchema.optional(),
  dataDir: z.string().min(1),
  /**
   * When an accepted reading is on disk. `commit` (default): fsync per group commit, so nothing
   * acknowledged is lost even to a power cut. `interval`: fsync every `intervalMs`; a process
   * crash still loses nothing (the OS holds the writes), a power cut loses at most the last
   * `intervalMs` of acknowledged readings.
   */
  journal: z
    .strictObject({ sync: z.enum(['commit', 'interval']).default('commit'), intervalMs: z.number().int().min(10).max(60_000).default(1000) })
    .prefault({}),
  forwarding: forwardingSchema,
  connection: connectionSchema,
  /** Devices and their points: one driver per bus or sensor (drivers/ validates Modbus and serial). */
  drivers: z
    .array(driverConfigSchema)
    .default([])
    .refine((ds) => new Set(ds.map((d) => (d as { name?: unknown }).name ?? d.type)).size === ds.length, { message: 'driver names must be unique (Modbus and serial-line drivers default to their type: name each one)' }),
  analytics: analyticsSchema,
  storage: storageSchema,
  twin: twinSchema,
  log: logSchema,
  diagnostics: diagnosticsSchema,
}).superRefine((c, ctx) => {
  if ((c.hub.connectionString === undefined) === (c.provisioning === undefined)) {
    ctx.addIssue({ code: 'custom', path: ['hub', 'connectionString'], message: 'give exactly one of "hub.connectionString" and "provisioning" (DPS)' });
  }
  if (c.provisioning && c.hub.x509) ctx.addIssue({ code: 'custom', path: ['hub', 'x509'], message: 'with "provisioning", the certificate goes in "provisioning.x509" (DPS and the hub use the same one)' });
});

/**
 * What the twin's desired properties may hold: the twin-settable sections, each a partial
 * overlay on the file's (arrays are replaced whole). Used for the emitted JSON Schema; the agent
 * validates the *merged* result with {@link agentConfigSchema}.
 */
export const desiredDocumentSchema = z.strictObject({
  drivers: z.array(driverConfigSchema).optional(),
  analytics: analyticsSchema.optional(),
  forwarding: forwardingSchema.optional(),
  // The memtable is sized when the buffer opens: the file's alone (overlay.ts refuses it).
  storage: storageFields.omit({ writeBufferBytes: true }).optional(),
  connection: connectionSchema.optional(),
  twin: twinSchema.optional(),
  log: logSchema.optional(),
});

export type AgentConfig = z.infer<typeof agentConfigSchema>;
export type AgentConfigInput = z.input<typeof agentConfigSchema>;
export type DriverConfig = z.infer<typeof driverConfigSchema>;
