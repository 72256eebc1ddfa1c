import { Counter, Gauge, type Registry } from 'prom-client';

export interface Sample {
  labels: Record<string, string>;
  value: number;
}

/**
 * Metrics whose values are read from the agent's own figures at each scrape. A counter is
 * rebuilt from the figure (reset, then incremented by it): prom-client's Counter has no set(),
 * and the figure already only grows, so the exposed counter only grows too.
 */
export function snapshotMetrics(registry: Registry, prefix: string) {
  return {
    gauge(name: string, help: string, labelNames: string[], read: () => Sample[]): void {
      new Gauge({
        name: prefix + name,
        help,
        labelNames,
        registers: [registry],
        collect() {
          this.reset();
          for (const s of read()) this.set(s.labels, s.value);
        },
      });
    },
    counter(name: string, help: string, labelNames: string[], read: () => Sample[]): void {
      if (!name.endsWith('_total')) throw new Error(`counter ${name} must end in _total`);
      new Counter({
        name: prefix + name,
        help,
        labelNames,
        registers: [registry],
        collect() {
          this.reset();
          for (const s of read()) this.inc(s.labels, Math.max(0, s.value));
        },
      });
    },
  };
}
