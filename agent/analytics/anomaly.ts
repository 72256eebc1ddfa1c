/**
 * The scoring behind ASA's AnomalyDetection_SpikeAndDip and AnomalyDetection_ChangePoint, from
 * the method ASA documents for them (after Vovk et al.'s conformal martingales, as in ML.NET's
 * IID detectors): the new value's p-value against a kernel density estimate of the history
 * window, and for change points a power martingale over those p-values. Pure arithmetic on
 * numbers, so it is deterministic and its state is the history itself.
 */

/** Martingale ε (ML.NET's default for the power martingale). */
const EPSILON = 0.1;
const LOG_EPSILON = Math.log(EPSILON);

/**
 * Tail probabilities of x under a Gaussian kernel density estimate of `history` (Silverman's
 * bandwidth): `upper` = P(X ≥ x), `lower` = P(X ≤ x). A constant history counts values instead.
 */
export function kdeTails(history: number[], x: number): { upper: number; lower: number } {
  const n = history.length;
  let mean = 0;
  for (const h of history) mean += h;
  mean /= n;
  let v = 0;
  for (const h of history) v += (h - mean) * (h - mean);
  const sd = n > 1 ? Math.sqrt(v / (n - 1)) : 0;
  const bw = 1.06 * sd * Math.pow(n, -0.2);
  if (!(bw > 0)) {
    let above = 0;
    let equal = 0;
    for (const h of history) {
      if (h > x) above++;
      else if (h === x) equal++;
    }
    const upper = (above + equal / 2) / n;
    return { upper, lower: 1 - upper };
  }
  let upper = 0;
  for (const h of history) upper += normalCdf((h - x) / bw);
  upper /= n;
  return { upper, lower: 1 - upper };
}

export interface AnomalyResult {
  Score: number;
  IsAnomaly: number;
}

/**
 * Spike (unusually high) or dip (unusually low) against the history. The p-value is the tail
 * watched (both tails: twice the smaller one); the event is an anomaly when it is below
 * 1 − confidence and the history is full (until then the model is still learning). Score is
 * 1 − p-value, so higher means more anomalous.
 */
export function spikeAndDip(history: number[], x: number, confidence: number, mode: 'spikes' | 'dips' | 'both', full: boolean): AnomalyResult {
  if (history.length < 2) return { Score: 0, IsAnomaly: 0 };
  const { upper, lower } = kdeTails(history, x);
  const p = mode === 'spikes' ? upper : mode === 'dips' ? lower : Math.min(1, 2 * Math.min(upper, lower));
  return { Score: 1 - p, IsAnomaly: full && p < 1 - confidence ? 1 : 0 };
}

/**
 * A change point, by a power martingale over the p-values (two-sided, against the history), kept
 * as its logarithm and restarted at 1 whenever it falls below (Page's CUSUM form, so a long calm
 * stretch does not bury a later change). A change is reported when the martingale reaches
 * 1 / (1 − confidence): for an unchanged (exchangeable) series, Ville's inequality bounds the
 * chance of that by 1 − confidence. One event may add at most a third of that, so a spike of one
 * or two events is not a change: it takes three or more unlikely events in a row. Score is the
 * martingale value. Returns the new logarithm with the result.
 */
export function changePoint(prevLog: number, history: number[], x: number, confidence: number, full: boolean): { log: number; result: AnomalyResult } {
  const threshold = Math.log(1 / (1 - confidence));
  let term = 0;
  if (history.length >= 2) {
    const { upper, lower } = kdeTails(history, x);
    const p = Math.max(1e-300, Math.min(1, 2 * Math.min(upper, lower)));
    term = Math.min(threshold / 3, LOG_EPSILON + (EPSILON - 1) * Math.log(p));
  }
  const log = Math.max(0, prevLog + term);
  return { log, result: { Score: Math.exp(log), IsAnomaly: full && log >= threshold ? 1 : 0 } };
}

/** Φ(z), with Abramowitz and Stegun's 7.1.26 for erf (error below 1.5e-7). */
function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + y) : 0.5 * (1 - y);
}
