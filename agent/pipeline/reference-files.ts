import { readFileSync, statSync } from 'node:fs';
import { parseReferenceText } from '../analytics/index.js';
import { EdgeError, errorMessage, systemErrorCode } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

export type ReferenceRows = Array<Record<string, unknown>>;

/** How one reference table is doing, for `edge-agent status`. */
export interface ReferenceStatus {
  /** The file, or `inline` for rows given in the config (the twin's desired properties). */
  from: string;
  /** Rows of the table in force (the last good version). */
  rows: number;
  /** When the table in force was read (clock ms); absent while no good version was ever read. */
  loadedAt?: number;
  /** Versions of the file that could not be used since the agent started (each counted once). */
  badVersions: number;
  /** Set while the file as it is now cannot be used: the last good table stays in force. */
  problem?: { code: string; message: string; since: number };
}

/** A file larger than this is refused: a table is joined from memory, per query. */
const MAX_FILE_BYTES = 32 * 1024 * 1024;

/**
 * One reference file as this process has seen it: the version in force (the last good one) and
 * the one on disk now. Kept per process, not per analytics stage, because a live reconfigure
 * builds a new stage: the new stage must keep the last good table when the file is bad by then.
 */
class WatchedFile {
  /** Size, inode and times of the version last looked at, good or bad. */
  private seen: string | null = null;
  rows: ReferenceRows | null = null;
  loadedAt: number | undefined;
  badVersions = 0;
  problem: ReferenceStatus['problem'];
  /** Bumped at every good load, so a stage knows whether its copy is stale. */
  generation = 0;

  constructor(
    readonly file: string,
    private readonly format: 'csv' | 'json' | undefined,
  ) {}

  /**
   * Looks at the file (a stat; a read only when it changed). Synchronous on purpose: the
   * pipeline step calling it then pushes its readings against the table this check decided,
   * and a reload cannot land in the middle of a step.
   */
  check(now: number, logger: Logger): void {
    let signature: string;
    try {
      const st = statSync(this.file, { bigint: true });
      signature = `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
    } catch (cause) {
      // A missing or unreadable file is a version too: reported once, until that changes.
      const code = systemErrorCode(cause) ?? 'error';
      if (this.seen === `unreadable:${code}`) return;
      this.seen = `unreadable:${code}`;
      this.fail(new EdgeError('EDGE_CONFIG_INVALID', `cannot read reference data ${this.file} (${code})`, { cause }), now, logger);
      return;
    }
    if (signature === this.seen) return;
    this.seen = signature;
    let rows: ReferenceRows;
    try {
      if (Number(signature.split(':')[1]) > MAX_FILE_BYTES) throw new EdgeError('EDGE_CONFIG_INVALID', `reference data ${this.file} is larger than ${MAX_FILE_BYTES} bytes`);
      rows = parseReferenceText(readFileSync(this.file, 'utf8'), this.file, this.format);
    } catch (err) {
      this.fail(err instanceof EdgeError ? err : new EdgeError('EDGE_CONFIG_INVALID', `cannot read reference data ${this.file} (${systemErrorCode(err) ?? errorMessage(err)})`, { cause: err }), now, logger);
      return;
    }
    this.rows = rows;
    this.loadedAt = now;
    this.problem = undefined;
    this.generation++;
    logger.info({ file: this.file, rows: rows.length }, 'reference data loaded');
  }

  /** Once per bad version: counted, kept for status, logged. */
  private fail(e: EdgeError, now: number, logger: Logger): void {
    this.badVersions++;
    this.problem = { code: e.code, message: e.message, since: now };
    logger.error({ file: this.file, err: e.message, keeping: this.rows === null ? 'an empty table' : `the last good table (${this.rows.length} rows)` }, 'reference data file cannot be used; the last good table stays in force');
  }
}

const watched = new Map<string, WatchedFile>();

function watchedFile(file: string, format: 'csv' | 'json' | undefined): WatchedFile {
  const key = `${format ?? ''}\u0000${file}`;
  let w = watched.get(key);
  if (w === undefined) {
    w = new WatchedFile(file, format);
    watched.set(key, w);
  }
  return w;
}

export type ReferenceSpec = { file: string; format?: 'csv' | 'json' | undefined; pollMs: number } | { rows: ReferenceRows };

/**
 * The reference tables of one analytics stage: inline ones fixed, file ones checked every
 * `pollMs` of the clock the pipeline steps with (no timer or watcher to close when the stage is
 * replaced), the first time at the stage's first step, before it pushes anything.
 */
export class ReferenceTables {
  /** `generation` -1 and `checkedAt` -Infinity: the first poll looks at the file and takes its table. */
  private readonly files: Array<{ name: string; w: WatchedFile; pollMs: number; generation: number; checkedAt: number }> = [];
  private readonly inline = new Map<string, ReferenceRows>();

  constructor(
    specs: Record<string, ReferenceSpec>,
    private readonly logger: Logger,
  ) {
    for (const [name, spec] of Object.entries(specs)) {
      if ('rows' in spec) this.inline.set(name, spec.rows);
      else this.files.push({ name, w: watchedFile(spec.file, spec.format), pollMs: spec.pollMs, generation: -1, checkedAt: -Infinity });
    }
  }

  /** Every table in force (a file never read good yet is an empty table). */
  all(): Record<string, ReferenceRows> {
    const out: Record<string, ReferenceRows> = Object.fromEntries(this.inline);
    for (const f of this.files) out[f.name] = f.w.rows ?? [];
    return out;
  }

  /**
   * Checks the files that are due; returns those whose table changed since this stage took it,
   * by name (at the first poll: every file read good so far, in this process or now).
   */
  poll(now: number): Array<[string, ReferenceRows]> {
    const changed: Array<[string, ReferenceRows]> = [];
    for (const f of this.files) {
      // A clock stepped back by more than a poll (NTP) must not stop the checks until it catches up.
      if (now - f.checkedAt >= f.pollMs || now < f.checkedAt - f.pollMs) {
        f.checkedAt = now;
        f.w.check(now, this.logger);
      }
      if (f.w.generation !== f.generation && f.w.rows !== null) {
        f.generation = f.w.generation;
        changed.push([f.name, f.w.rows]);
      }
    }
    return changed;
  }

  status(): Record<string, ReferenceStatus> {
    const out: Record<string, ReferenceStatus> = {};
    for (const [name, rows] of this.inline) out[name] = { from: 'inline', rows: rows.length, badVersions: 0 };
    for (const { name, w } of this.files) {
      out[name] = { from: w.file, rows: w.rows?.length ?? 0, badVersions: w.badVersions, ...(w.loadedAt !== undefined ? { loadedAt: w.loadedAt } : {}), ...(w.problem ? { problem: w.problem } : {}) };
    }
    return out;
  }
}
