/**
 * Values as functions of time, so a simulated register moves the way a plant does and a test
 * with a `ManualClock` knows exactly what it will read. `t` is epoch ms from the injected Clock.
 */
export type Signal =
  | { kind: 'constant'; value: number }
  | { kind: 'sine'; amplitude: number; periodMs: number; offset?: number; phaseMs?: number }
  | { kind: 'ramp'; from: number; to: number; periodMs: number }
  | { kind: 'step'; values: number[]; periodMs: number }
  | { kind: 'noise'; mean: number; amplitude: number; seed?: number; holdMs?: number };

export function signalValue(signal: Signal, t: number): number {
  switch (signal.kind) {
    case 'constant':
      return signal.value;
    case 'sine':
      return (signal.offset ?? 0) + signal.amplitude * Math.sin((2 * Math.PI * (t + (signal.phaseMs ?? 0))) / signal.periodMs);
    case 'ramp': {
      const frac = mod(t, signal.periodMs) / signal.periodMs;
      return signal.from + (signal.to - signal.from) * frac;
    }
    case 'step': {
      if (signal.values.length === 0) return 0;
      return signal.values[Math.floor(t / signal.periodMs) % signal.values.length]!;
    }
    case 'noise': {
      // Deterministic: the same (seed, time bucket) always gives the same value.
      const bucket = Math.floor(t / (signal.holdMs ?? 1));
      return signal.mean + signal.amplitude * (2 * hash01((signal.seed ?? 1) * 0x9e3779b1 + bucket) - 1);
    }
  }
}

function mod(a: number, n: number): number {
  return ((a % n) + n) % n;
}

function hash01(x: number): number {
  let h = Math.imul((x | 0) ^ 0x5bd1e995, 0x27d4eb2d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return (h >>> 0) / 0xffffffff;
}
