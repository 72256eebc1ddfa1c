/**
 * One benchmark figure. Machines are shared and noisy, so a row that can be compared with a
 * baseline measured in the same process carries it, and the table prints the ratio.
 */
export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  baseline?: { name: string; value: number };
  note?: string;
}

export interface BenchSuite {
  /** Short name used to pick suites: `npm run bench -- <name>`. */
  name: string;
  run(log: (line: string) => void): Promise<BenchRow[]>;
}

/** Runs `fn` repeatedly for at least `minMs` and returns operations per second. */
export async function opsPerSecond(fn: () => unknown | Promise<unknown>, opsPerCall: number, minMs = 1000): Promise<number> {
  let calls = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < minMs) {
    await fn();
    calls++;
    elapsed = performance.now() - start;
  }
  return (calls * opsPerCall * 1000) / elapsed;
}
