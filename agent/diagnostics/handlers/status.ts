import type { TimerHandle } from '../../core/clock.js';
import type { DiagnosticsContext } from '../context.js';
import type { Stream } from './handler.js';
import type { AgentStats } from '../../core/agent-stats.js';
import type { EventLoopFigures } from '../event-loop.js';

/** What `edge-agent status` shows: the truth in one screen. */
export interface StatusReport {
  version: string;
  deviceId: string;
  boot: string;
  pid: number;
  now: number;
  startedAt: number;
  uptimeMs: number;
  /** The clock as the agent sees it; `sane` is false for a clock before the build's year. */
  clock: { now: string; sane: boolean };
  health?: { healthy: boolean; reason?: string };
  /** How late the event loop ran callbacks (drivers' polls among them), last minute. */
  eventLoop?: EventLoopFigures;
  connection: AgentStats['transport'];
  twin: { version: number; source: string; appliedAt?: string; lastRefusal?: unknown } | null;
  drivers: AgentStats['drivers'];
  readings: number;
  buffer: BufferSummary;
  forwarder: AgentStats['forwarder'];
  paths?: AgentStats['paths'];
  analytics?: AgentStats['analytics'];
  alarms: AgentStats['alarms'];
}

export interface BufferSummary {
  journalBacklog: number;
  unsent: Record<string, { records: number; bytes: number }>;
  unsentRecords: number;
  oldestUnsentAgeMs?: number;
  retained: { records: number; bytes: number };
  bytes: number;
  quotaBytes: number;
  nextSeq: number;
  evicted: AgentStats['storage']['evicted'];
  expired: AgentStats['storage']['expired'];
  evictedRanges: AgentStats['storage']['evictedRanges'];
  written?: AgentStats['storage']['written'];
  /** Readings the deadband kept back since start (forwarded as nothing; analytics saw them), per point. */
  deadband?: AgentStats['deadband'];
}

/** Clocks before this are surely unset (an RTC-less box booted without NTP). */
const SANE_AFTER = Date.UTC(2025, 0, 1);

export function bufferSummary(s: AgentStats, now: number): BufferSummary {
  const unsent: Record<string, { records: number; bytes: number }> = {};
  let unsentRecords = 0;
  for (const [kind, f] of Object.entries(s.storage.unsent)) {
    if (!f) continue;
    unsent[kind] = { records: f.records, bytes: f.bytes };
    unsentRecords += f.records;
  }
  return {
    journalBacklog: s.journalBacklog,
    unsent,
    unsentRecords,
    ...(s.storage.oldestUnsentTime !== undefined ? { oldestUnsentAgeMs: Math.max(0, now - s.storage.oldestUnsentTime) } : {}),
    retained: s.storage.sent,
    bytes: s.storage.bytes,
    quotaBytes: s.storage.quotaBytes,
    nextSeq: s.nextSeq,
    evicted: s.storage.evicted,
    expired: s.storage.expired,
    evictedRanges: s.storage.evictedRanges,
    ...(s.storage.written ? { written: s.storage.written } : {}),
    ...(s.deadband ? { deadband: s.deadband } : {}),
  };
}

export function statusReport(ctx: DiagnosticsContext): StatusReport {
  const s = ctx.agent.stats();
  const now = ctx.clock.now();
  const twinStatus = ctx.twin?.configStatus();
  return {
    version: ctx.version,
    deviceId: s.deviceId,
    boot: s.boot,
    pid: process.pid,
    now,
    startedAt: s.startedAt,
    uptimeMs: now - s.startedAt,
    clock: { now: new Date(now).toISOString(), sane: now >= SANE_AFTER },
    ...(ctx.health ? { health: ctx.health() } : {}),
    ...(ctx.eventLoop ? { eventLoop: ctx.eventLoop() } : {}),
    connection: s.transport,
    twin: twinStatus
      ? {
          version: twinStatus.version,
          source: twinStatus.source,
          appliedAt: new Date(twinStatus.appliedAt).toISOString(),
          ...(twinStatus.lastRefusal ? { lastRefusal: twinStatus.lastRefusal } : {}),
        }
      : null,
    drivers: s.drivers,
    readings: s.readings,
    buffer: bufferSummary(s, now),
    forwarder: s.forwarder,
    ...(s.paths ? { paths: s.paths } : {}),
    ...(s.analytics ? { analytics: s.analytics } : {}),
    alarms: s.alarms,
  };
}

/** At most this often while readings flow, and at least this often when they do not. */
const FOLLOW_MIN_MS = 100;
const FOLLOW_MAX_MS = 1000;

/**
 * `edge-agent status [--follow]`: one report, or with `follow` a report as an event whenever
 * readings were accepted (at most every 100 ms) and at least every second, until the client
 * hangs up: a script or a test waits on the agent's own figures instead of asking in a loop.
 */
export async function status(ctx: DiagnosticsContext, args: Record<string, unknown> = {}, stream?: Stream): Promise<StatusReport | null> {
  if (args.follow !== true || !stream) return statusReport(ctx);
  let last = 0;
  let timer: TimerHandle | undefined;
  const send = () => {
    if (timer) ctx.clock.clearTimeout(timer);
    last = ctx.clock.now();
    stream.emit(statusReport(ctx));
    timer = ctx.clock.setTimeout(send, FOLLOW_MAX_MS);
  };
  const unsubscribe = ctx.agent.onAccepted(() => {
    if (ctx.clock.now() - last >= FOLLOW_MIN_MS) send();
  });
  send();
  await stream.closed;
  unsubscribe();
  if (timer) ctx.clock.clearTimeout(timer);
  return null;
}
