import type { SyntheticPoint } from './config.js';

/**
 * A process value between polls: a random walk pulled back towards its setpoint (so it drifts
 * slowly but stays in range), plus independent small noise on each reading, rounded to the
 * point's resolution. One `next()` per poll; seeded, so a run is repeatable. No clock: the
 * driver steps it once per poll of its injected clock.
 */
export class DriftSignal {
  private walk = 0;
  private readonly random: () => number;
  private readonly setpoint: number;
  private readonly drift: number;
  private readonly reversion: number;
  private readonly noise: number;
  private readonly resolution: number | undefined;

  constructor(p: SyntheticPoint, source: string) {
    this.setpoint = p.setpoint ?? 0;
    this.drift = p.drift ?? 0.01;
    this.reversion = p.reversion ?? 0.001;
    this.noise = p.noise ?? 0.02;
    this.resolution = p.resolution;
    this.random = mulberry32(p.seed ?? hashName(`${source}\u0000${p.name}`));
    // Started anywhere in its stationary spread (σ·√(1/(2r − r²))), not at the setpoint: the
    // first minutes then look like any later ones, instead of a walk only beginning to wander.
    if (this.reversion > 0) this.walk = this.drift * Math.sqrt(1 / (2 * this.reversion - this.reversion ** 2)) * this.gaussian();
  }

  next(): number {
    this.walk += this.drift * this.gaussian() - this.reversion * this.walk;
    const v = this.setpoint + this.walk + this.noise * (2 * this.random() - 1);
    if (this.resolution === undefined) return v;
    // Rounded through the resolution's decimals too, so 0.1 steps do not print as 20.300000000000001.
    const q = Math.round(v / this.resolution) * this.resolution;
    return Number(q.toFixed(decimals(this.resolution)));
  }

  /** Box-Muller: a standard normal from two uniforms. */
  private gaussian(): number {
    const u = 1 - this.random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.random());
  }
}

function decimals(x: number): number {
  const s = String(x);
  const e = /e-(\d+)$/.exec(s);
  if (e) return Number(e[1]);
  return s.includes('.') ? s.length - s.indexOf('.') - 1 : 0;
}

/** A small, well-mixed 32-bit PRNG (Tommy Ettinger's mulberry32), uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a of the name: a seed that differs per point and repeats per run. */
function hashName(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
