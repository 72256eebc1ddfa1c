/** Prometheus text exposition (format 0.0.4), parsed: one family per `# TYPE` line, its samples. */
export interface Family {
  name: string;
  type: string;
  help: string;
  samples: Array<{ name: string; labels: Record<string, string>; value: number }>;
}

export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const help = new Map<string, string>();
  let current: Family | undefined;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      if (kind === 'HELP') help.set(name, rest);
      else {
        if (families.has(name)) throw new Error(`TYPE ${name} given twice`);
        current = { name, type: rest, help: help.get(name) ?? '', samples: [] };
        families.set(name, current);
      }
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const [, name, labelText, value] = m as unknown as [string, string, string | undefined, string];
    if (!current || !(name === current.name || name.startsWith(current.name + '_'))) throw new Error(`sample ${name} outside its family (after ${current?.name ?? 'nothing'})`);
    const labels: Record<string, string> = {};
    for (const l of (labelText ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    current.samples.push({ name, labels, value: Number(value) });
  }
  return families;
}

/** One sample's value (by name and exact labels), or undefined. */
export function sampleValue(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const f of families.values()) {
    for (const s of f.samples) if (s.name === name && JSON.stringify(s.labels) === JSON.stringify(labels)) return s.value;
  }
  return undefined;
}

/**
 * What every exposition of ours must hold: counters end in `_total` (and, of the families named
 * `ours…`, only counters do),
 * names are snake_case with no millisecond units, every family has its HELP.
 */
export function conventionProblems(families: Map<string, Family>, ours: string): string[] {
  const problems: string[] = [];
  for (const f of families.values()) {
    if (!/^[a-z_:][a-z0-9_:]*$/.test(f.name)) problems.push(`${f.name}: not snake_case`);
    if (f.type === 'counter' && !f.name.endsWith('_total')) problems.push(`${f.name}: a counter without _total`);
    // prom-client's own nodejs_active_*_total are gauges: its names, not ours to judge.
    if (f.name.startsWith(ours) && f.type !== 'counter' && f.name.endsWith('_total')) problems.push(`${f.name}: a ${f.type} named like a counter`);
    if (/_(ms|millis|milliseconds)(_|$)/.test(f.name)) problems.push(`${f.name}: milliseconds (Prometheus uses base units: seconds)`);
    if (!f.help) problems.push(`${f.name}: no HELP`);
  }
  return problems;
}

/** Counter samples of `before` that are lower in `after` (a counter must never go down). */
export function countersGoingDown(before: Map<string, Family>, after: Map<string, Family>): string[] {
  const out: string[] = [];
  for (const f of before.values()) {
    if (f.type !== 'counter') continue;
    for (const s of f.samples) {
      const later = sampleValue(after, s.name, s.labels);
      if (later !== undefined && later < s.value) out.push(`${s.name}${JSON.stringify(s.labels)} ${s.value} → ${later}`);
    }
  }
  return out;
}
