import type { Command } from 'commander';
import { defaultSocketPath } from '../diagnostics/client.js';

/** Options every diagnostics command takes. */
export interface DiagOptions {
  socket: string;
  json?: boolean;
}

export function withDiagOptions(cmd: Command): Command {
  return cmd
    .option('--socket <path>', "the running agent's diagnostics socket", defaultSocketPath())
    .option('--json', 'print JSON for scripts instead of the human view');
}

export interface Paint {
  ok(s: string): string;
  warn(s: string): string;
  bad(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

/** Colours only on a terminal, and never when NO_COLOR is set. */
export function paint(stream: NodeJS.WriteStream = process.stdout): Paint {
  const on = stream.isTTY === true && !process.env.NO_COLOR;
  const wrap = (code: number, reset: number) => (s: string) => (on ? `\x1b[${code}m${s}\x1b[${reset}m` : s);
  return { ok: wrap(32, 39), warn: wrap(33, 39), bad: wrap(31, 39), dim: wrap(2, 22), bold: wrap(1, 22) };
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;
const visible = (s: string) => s.replace(ANSI, '').length;

/** Left-aligned columns, two spaces apart; numbers may be right-aligned by column index. */
export function table(rows: string[][], opts: { right?: number[]; indent?: string } = {}): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, visible(c))));
  return rows
    .map((r) =>
      (opts.indent ?? '') +
      r
        .map((c, i) => {
          const pad = ' '.repeat((widths[i] ?? 0) - visible(c));
          if (opts.right?.includes(i)) return pad + c;
          return i === r.length - 1 ? c : c + pad;
        })
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** Label/value lines with the values aligned. */
export function fields(pairs: Array<[string, string]>, indent = ''): string {
  const w = Math.max(0, ...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${indent}${k.padEnd(w)}  ${v}`).join('\n');
}

export function age(ms: number | undefined): string {
  if (ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** The deadband's figure in one line: total, and the points that kept back most. */
export function suppressedLine(d: { suppressed: number; points: Array<{ source: string; point: string; suppressed: number }> } | undefined): string {
  if (!d || d.suppressed === 0) return 'none';
  const top = [...d.points].sort((a, b) => b.suppressed - a.suppressed).slice(0, 3).map((x) => `${x.source}/${x.point} ${x.suppressed}`);
  return `${d.suppressed} readings since start, not forwarded (${d.points.length} points; most: ${top.join(', ')}${d.points.length > 3 ? ', …' : ''})`;
}
