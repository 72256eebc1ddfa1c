import type { Writable } from 'node:stream';
import { pino, type Level, type LevelWithSilent, type Logger } from 'pino';

export const LOG_LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** One log line as the diagnostics see it (pino's JSON, parsed). */
export type LogEntry = Record<string, unknown> & { level: number; time: number; msg?: string; module?: string };

/**
 * The root logger plus what `edge-agent logs` needs: the last lines in memory, followers of new
 * lines, and run-time level changes for the whole agent or one module (`module` binding).
 * Lines still go to stdout as JSON (journald keeps them); the tap only copies them.
 */
export class LogControl {
  readonly logger: Logger;
  private readonly recent: string[] = [];
  private readonly followers = new Set<(line: string) => void>();
  private readonly children = new Set<WeakRef<Logger>>();
  private readonly moduleLevels = new Map<string, LevelWithSilent>();

  constructor(
    level: LevelWithSilent,
    out: Pick<Writable, 'write'> = pino.destination(1),
    private readonly keep = 1000,
  ) {
    const tap = {
      write: (line: string) => {
        out.write(line);
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

  /** The last `n` lines (at most the ring's size), oldest first. */
  tail(n: number): LogEntry[] {
    return this.recent.slice(-Math.max(0, n)).map(parse);
  }

  follow(onEntry: (e: LogEntry) => void): () => void {
    const f = (line: string) => onEntry(parse(line));
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
