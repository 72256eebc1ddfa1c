import { arch, platform, release } from 'node:os';
import { gzipSync } from 'node:zlib';
import type { Clock } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { LogEntry } from '../diagnostics/log-control.js';
import { matchesFilter, type LogFilter } from './log-filter.js';
import { redactFields, redactText } from './redact.js';
import { tarGz, type TarEntry } from './tar.js';

/** What a bundle is made of; each part read when the bundle is made. */
export interface BundleSources {
  deviceId: string;
  agentVersion: string;
  boot: () => string;
  startedAt: () => number;
  clock: Clock;
  /** The lines the agent keeps in memory, oldest first (see LogControl). */
  logs: () => LogEntry[];
  status: () => Promise<unknown>;
  buffer: () => Promise<unknown>;
  config: () => Promise<unknown>;
  /** Literal secrets the agent holds (its device key…): masked wherever they appear. */
  secrets: () => string[];
}

export interface BuiltFile {
  /** The upload's name (IoT Hub puts it under the device's id). */
  name: string;
  data: Buffer;
  /** What it holds, for the method's answer. */
  contents: Record<string, unknown>;
}

/**
 * A support bundle: one `.tar.gz` with a top folder `support-bundle-<device>-<time>/` holding
 * `manifest.json`, `version.json`, `status.json`, `buffer.json`, `config.json` and `logs.jsonl`,
 * every file redacted. A part that fails to read is replaced by its error, never the bundle.
 */
export async function buildSupportBundle(src: BundleSources, filter: LogFilter = {}): Promise<BuiltFile> {
  const now = src.clock.now();
  const stamp = fileStamp(now);
  const dir = `support-bundle-${safe(src.deviceId)}-${stamp}`;
  const secrets = src.secrets();
  const lines = src.logs().filter((e) => matchesFilter(e, filter));
  const parts: Array<[string, string]> = [
    ['version.json', json(versionInfo(src, now))],
    ['status.json', json(await attempt(src.status))],
    ['buffer.json', json(await attempt(src.buffer))],
    ['config.json', json(await attempt(src.config))],
    ['logs.jsonl', jsonLines(lines)],
  ];
  const logs = logSummary(lines, filter);
  const manifest = { kind: 'edge-agent support bundle', deviceId: src.deviceId, createdAt: new Date(now).toISOString(), agentVersion: src.agentVersion, files: ['manifest.json', ...parts.map(([n]) => n)], logs, redacted: 'secrets (keys, tokens, passwords, connection-string keys) are replaced by ***' };
  const entries: TarEntry[] = [['manifest.json', json(manifest)] as [string, string], ...parts].map(([name, text]) => ({ name: `${dir}/${name}`, data: Buffer.from(redactText(text, secrets)), mtimeMs: now }));
  return { name: `support-bundles/${stamp}.tar.gz`, data: tarGz(entries), contents: { files: manifest.files, logs } };
}

/** `uploadLogs`: the kept lines that pass the filter, one JSON object a line, gzipped and redacted. */
export function buildLogsFile(src: BundleSources, filter: LogFilter): BuiltFile {
  const now = src.clock.now();
  const lines = src.logs().filter((e) => matchesFilter(e, filter));
  const text = redactText(jsonLines(lines), src.secrets());
  return { name: `logs/${fileStamp(now)}.jsonl.gz`, data: gzipSync(Buffer.from(text)), contents: { logs: logSummary(lines, filter) } };
}

function versionInfo(src: BundleSources, now: number): Record<string, unknown> {
  return { agentVersion: src.agentVersion, node: process.version, platform: platform(), arch: arch(), osRelease: release(), pid: process.pid, boot: src.boot(), startedAt: new Date(src.startedAt()).toISOString(), uptimeMs: now - src.startedAt() };
}

function logSummary(lines: LogEntry[], filter: LogFilter): Record<string, unknown> {
  return {
    lines: lines.length,
    ...(lines.length ? { oldest: new Date(lines[0]!.time).toISOString(), newest: new Date(lines[lines.length - 1]!.time).toISOString() } : {}),
    kept: 'the last lines the agent wrote (its in-memory ring, at the log level in force); older ones are in journald',
    ...(Object.keys(filter).length ? { filter: { ...filter, ...(filter.sinceMs !== undefined ? { since: new Date(filter.sinceMs).toISOString() } : {}) } } : {}),
  };
}

async function attempt(read: () => Promise<unknown>): Promise<unknown> {
  try {
    return await read();
  } catch (err) {
    return { error: errorMessage(err) };
  }
}

function json(v: unknown): string {
  return JSON.stringify(redactFields(v), null, 2) + '\n';
}

function jsonLines(lines: LogEntry[]): string {
  return lines.map((e) => JSON.stringify(redactFields(e)) + '\n').join('');
}

/** `20261201T221530123Z`: sortable, and safe in blob and file names. */
function fileStamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:.]/g, '');
}

function safe(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 40);
}
