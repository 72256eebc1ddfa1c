import type { Command } from 'commander';
import { request } from '../../diagnostics/client.js';
import type { SensorRow, SkippedRow, WriteRow } from '../../diagnostics/handlers/sensors.js';
import { parseDuration } from '../duration.js';
import { withExamples } from '../help.js';
import { age, paint, printJson, table, withDiagOptions, type DiagOptions, type Paint } from '../format.js';

export function registerSensors(program: Command): void {
  withDiagOptions(
    withExamples(program.command('sensors'), ['sensors', 'sensors --watch --interval 2s'])
      .description('live point values with quality and age (from the running agent)')
      .option('-w, --watch', 'refresh until Ctrl-C')
      .option('--interval <duration>', 'refresh period with --watch (at least 100ms; 2s, 1m; a bare number is ms)', '1s'),
  ).action(async (opts: DiagOptions & { watch?: boolean; interval: string }) => {
    const interval = parseDuration(opts.interval, '--interval', { min: 100 });
    const p = paint();
    const show = async (first: boolean) => {
      const r = (await request(opts.socket, 'sensors', {}, { timeoutMs: 10_000 })) as { now: number; points: SensorRow[]; writes?: WriteRow[]; skipped?: SkippedRow[] };
      if (opts.json) {
        if (opts.watch) process.stdout.write(JSON.stringify(r) + '\n');
        else printJson(r);
        return;
      }
      const text = renderSensors(r.points, p, r.skipped ?? []) + (r.writes?.length ? '\n\n' + renderWrites(r.writes, p) : '');
      if (opts.watch && process.stdout.isTTY) process.stdout.write('\x1b[H\x1b[2J' + `${new Date(r.now).toISOString()}  (Ctrl-C to stop)\n` + text + '\n');
      else process.stdout.write((first ? '' : '\n') + text + '\n');
    };
    await show(true);
    if (!opts.watch) return;
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      while (!stop.signal.aborted) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, interval);
          stop.signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
        });
        if (!stop.signal.aborted) await show(false);
      }
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  });
}

export function renderSensors(points: SensorRow[], p: Paint, skipped: SkippedRow[] = []): string {
  const notes = skipped.map((s) => {
    const counts = Object.entries(s.lines).sort(([, a], [, b]) => b - a);
    const total = counts.reduce((n, [, c]) => n + c, 0);
    const text = `${s.source}: ${total} line${total === 1 ? '' : 's'} skipped (${counts.map(([k, n]) => `${k} ×${n}`).join(', ')}): ${s.because}`;
    return s.everGood ? p.dim(text) : p.warn(`${text}; no point read yet`);
  });
  return [renderPoints(points, p), ...notes].join('\n');
}

function renderPoints(points: SensorRow[], p: Paint): string {
  if (points.length === 0) return p.dim('no readings yet');
  const rows: string[][] = [['source', 'point', 'value', 'unit', 'quality', 'age', '']];
  for (const r of points) {
    const value = r.value === null ? '—' : typeof r.value === 'number' ? formatNumber(r.value) : String(r.value);
    const quality = r.quality === 'good' ? p.ok('good') : p.bad('bad');
    const stale = r.ageMs > 60_000 ? p.warn(age(r.ageMs)) : age(r.ageMs);
    rows.push([r.source, r.point, value, r.unit ?? '', quality, stale, r.error ? `${r.error.code}: ${r.error.message}` : '']);
  }
  return table(rows, { right: [2] });
}

/** The last write of each written point: who, what was asked, what was read back, how long ago. */
export function renderWrites(writes: WriteRow[], p: Paint): string {
  const rows: string[][] = [['last writes', 'point', 'requested', 'read back', 'outcome', 'by', 'age', '']];
  for (const w of writes) {
    const outcome = w.outcome === 'done' ? p.ok('done') : w.outcome === 'refused' ? p.warn('refused') : p.bad('failed');
    const readBack = w.readBack === undefined || w.readBack === null ? '—' : typeof w.readBack === 'number' ? formatNumber(w.readBack) : String(w.readBack);
    rows.push([`${w.driver ? `${w.driver}/` : ''}${w.device}`, w.point, JSON.stringify(w.requested) ?? '—', readBack, outcome, w.by, age(w.ageMs), w.error ? `${w.error.code}: ${w.error.message}` : '']);
  }
  return table(rows, { right: [2, 3] });
}

function formatNumber(v: number): string {
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 1000 ? v.toFixed(1) : v.toPrecision(6).replace(/\.?0+$/, '');
}
