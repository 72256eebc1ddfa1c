import type { Writable } from 'node:stream';
import { pino, type Level, type LevelWithSilent, type Logger } from 'pino';
import { EdgeError } from '../core/errors.js';
import { prefixSyslogPriority, syslogPrefixWanted } from '../core/logger.js';

export const LOG_LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** One log line as the diagnostics see it (pino's JSON, parsed). */
export type LogEntry = Record<string, unknown> & { level: number; time: number; msg?: string; module?: string };

/**
 * The root logger plus what `edge-agent logs` needs: the last lines in memory, followers of new
 * lines, and run-time level changes for the whole agent or one module (`module` binding).
 * Lines still go to stdout as JSON (journald keeps them, with each line's priority when stdout is
 * the journal: see core/logger.ts); the tap only copies them.
 */
export class LogControl {
  readonly logger: Logger;
  private readonly recent: string[] = [];
  private readonly followers = new Set<(line: string) => void>();
  private readonly children = new Set<WeakRef<Logger>>();
  private readonly moduleLevels = new Map<string, LevelWithSilent>();
  /** Every module name a child logger was made for, kept after the logger is collected. */
  private readonly moduleNames = new Set<string>();

  constructor(
    level: LevelWithSilent,
    out: Pick<Writable, 'write'> = pino.destination(1),
    private readonly keep = 1000,
    /** The journal's `<N>` priority before each line on `out` (not in what `logs` shows). */
    syslogPrefix = syslogPrefixWanted(),
  ) {
    const tap = {
      write: (line: string) => {
        out.write(syslogPrefix ? prefixSyslogPriority(line) : line);
        this.remember(line);
        return true;
      },
    };
    this.logger = pino(
      {
        level,
        base: { pid: process.pid },
        onChild: (child) => {
          this.children.add(new WeakRef(child));
          const module = moduleOf(child);
          if (module !== undefined) this.moduleNames.add(module);
          const wanted = module !== undefined ? this.moduleLevels.get(module) : undefined;
          if (wanted) child.level = wanted;
        },
      },
      tap,
    );
  }

  private remember(line: string): void {
    this.recent.push(line);
    if (this.recent.length > this.keep) this.recent.splice(0, this.recent.length - this.keep);
    for (const f of this.followers) f(line);
  }

  /** The last `n` lines (at most the ring's size), oldest first; with `module`, that module's only. */
  tail(n: number, module?: string): LogEntry[] {
    // slice(-0) would be the whole ring: `logs -n 0` asks for none.
    if (n <= 0) return [];
    const entries = this.recent.map(parse);
    return (module === undefined ? entries : entries.filter((e) => e.module === module)).slice(-n);
  }

  follow(onEntry: (e: LogEntry) => void, module?: string): () => void {
    const f = (line: string) => {
      const e = parse(line);
      if (module === undefined || e.module === module) onEntry(e);
    };
    this.followers.add(f);
    return () => this.followers.delete(f);
  }

  /** Sets the level of every logger, or only of the module's. Returns the levels now in force. */
  setLevel(level: LevelWithSilent, module?: string): Record<string, string> {
    if (module === undefined) {
      this.moduleLevels.clear();
      this.logger.level = level;
    } else {
      this.moduleLevels.set(module, level);
    }
    for (const ref of [...this.children]) {
      const child = ref.deref();
      if (!child) {
        this.children.delete(ref);
        continue;
      }
      if (module === undefined || moduleOf(child) === module) child.level = level;
    }
    return this.levels();
  }

  /** The modules a logger was made for (the names `--module` takes), sorted. */
  modules(): string[] {
    return [...this.moduleNames].sort();
  }

  /** `module` if it is one of {@link modules}, else a usage error naming them. */
  knownModule(module: unknown): string | undefined {
    if (module === undefined || module === '') return undefined;
    const known = this.modules();
    if (typeof module !== 'string' || !known.includes(module)) throw new EdgeError('EDGE_USAGE', `no module '${String(module)}' logs in this agent; known: ${known.join(', ')}`);
    return module;
  }

  levels(): Record<string, string> {
    const out: Record<string, string> = { '*': this.logger.level };
    for (const ref of this.children) {
      const child = ref.deref();
      const module = child && moduleOf(child);
      if (child && module !== undefined) out[module] = child.level;
    }
    return out;
  }
}

function moduleOf(logger: Logger): string | undefined {
  const m = logger.bindings().module;
  return typeof m === 'string' ? m : undefined;
}

function parse(line: string): LogEntry {
  try {
    return JSON.parse(line) as LogEntry;
  } catch {
    return { level: 30, time: Date.now(), msg: line.trimEnd() };
  }
}

export function levelName(n: number): Level | string {
  return pino.levels.labels[n] ?? String(n);
}
