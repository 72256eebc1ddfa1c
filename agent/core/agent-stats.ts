import type { DriverHealth } from './driver.js';
import type { TransportStatus } from './transport.js';
import type { RecordKind } from './wire.js';
import type { TrafficFigures } from './traffic-meter.js';

/**
 * The agent's figures as the faces show them (status, health, the twin's summary, metrics): one
 * vocabulary in the kernel, so the faces need not import the parts that produce it.
 */

export interface AgentStats {
  deviceId: string;
  boot: string;
  startedAt: number;
  /** Readings accepted (durable in the journal) since start. */
  readings: number;
  journalBacklog: number;
  outboxDepth: number;
  nextSeq: number;
  forwarder: ForwarderStats;
  transport: TransportStatus;
  /** Each driver's own health, and the readings of it the journal refused (EDGE_READING_INVALID). */
  drivers: Record<string, DriverHealth & Refusals>;
  storage: StorageStats;
  /** Conditions a technician must see: a damaged store moved aside, a full disk. */
  alarms: Alarm[];
  /** The store refuses writes right now (full disk, damage being replaced); the agent is healing it. */
  storeFault?: Alarm;
  /** Per query: late/out-of-order/dropped/… counters and the watermark lag. */
  analytics?: { counters: Record<string, unknown>; watermarks: Record<string, number> };
  /** Readings the deadband kept back (not forwarded; analytics saw them), since start, per point. */
  deadband?: { suppressed: number; points: Array<{ driver: string; source: string; point: string; suppressed: number }> };
  /** Figures per sending path; `files` is the backlog-files drainer (agent/backlog-files/). */
  paths?: { files?: FilesPathStats };
}

/** The backlog as IoT Hub file uploads, since start. */
export interface FilesPathStats {
  enabled: boolean;
  /** Unsent records below this seq are the drainer's (0: none reserved). */
  reservedBelow: number;
  files: number;
  records: number;
  /** gzip bytes uploaded (Azure Storage's bill, not IoT Hub's). */
  bytesUploaded: number;
  /** IoT Hub billed messages: 2 per file (the upload request and its completion notification). */
  unitsBilled: number;
  failures: number;
  lastError?: { code: string; message: string; at: number };
}

export interface StorageStats extends OutboxFigures {
  /**
   * What this process wrote since start, and per accepted reading (flash wear). `deviceBytes` is
   * what reached the storage device; `writeCalls` what was handed to write() (page cache included).
   */
  written?: { deviceBytes: number; writeCalls: number; deviceBytesPerReading: number | null; writeCallsPerReading: number | null };
  bytes: number;
  quotaBytes: number;
  evicted: EvictionCounts;
  expired: EvictionCounts;
  evictedRanges: SeqRange[];
}

export interface Alarm {
  code: 'EDGE_STORE_CORRUPT' | 'EDGE_STORE_DAMAGED' | 'EDGE_DISK_FULL';
  message: string;
  since: number;
}

export interface ForwarderStats {
  messagesAcked: number;
  recordsAcked: number;
  bytesAcked: number;
  unitsBilled: number;
  sendFailures: number;
  inFlight: number;
  /** First seq of the live lane: older unsent records are the backlog. */
  liveFrom: number;
  /** Billed units and bytes per path and class, since start and per UTC day. */
  traffic: TrafficFigures;
  lastError?: { code: string; message: string; at: number };
}

export interface KindFigures {
  records: number;
  bytes: number;
}

export interface OutboxFigures {
  unsent: Partial<Record<RecordKind, KindFigures>>;
  sent: KindFigures;
  /** Application time of the oldest unsent record, if any. */
  oldestUnsentTime?: number;
}

export interface Refusals {
  /** Readings of this driver refused at the door since start. */
  rejected: number;
  rejectedByReason: Record<string, number>;
}

export interface SeqRange {
  fromSeq: number;
  toSeq: number;
}

/** What had to go, per kind: counted and reported, never silent. */
export type EvictionCounts = Record<'sent' | RecordKind, number>;
