// How the PBS paper's t-visibility numbers were produced, so that ours can be compared with them.
//
// The authors' simulator (pbs-vldb-historical-paper-material, nrw_solver/src/Simulator.java,
// option SWEEP, driven by sim-graphs/graphsmallps.py for the paper's Table 4) does not take a
// percentile of one sample. It walks a fixed grid of t (0, 0.01, 0.02 ... ms for LNKD-SSD; 0,
// 0.1, 0.2 ... for LNKD-DISK and WAN; 1, 2, 3 ... for YMMR), runs a FRESH batch of 50,000 WARS
// trials at every t, and reports the first t at which the batch has at most 50 stale reads
// (P(consistent) >= 99.9%). Near the 99.9th percentile the true stale probability changes slowly
// with t, so one of the many batches just above it crosses by chance: the procedure stops early
// and reports a t below the 99.9th percentile. That is why a plain percentile of our thresholds
// (`tVisibility`) comes out 4-14% above every published t-visibility.
//
// The reported t is a random variable with a distribution we can compute exactly from our own
// P(consistent at t) curve: the batches are independent, so
//   P(first crossing at grid point k) = prod_{j<k} (1 - B_j) * B_k,
//   B_j = P(Binomial(itersPerT, q(t_j)) <= maxStale),   q = 1 - P(consistent).
// `sweepEstimatorDistribution` returns that distribution; `sweepFirstCrossing` replays the
// procedure literally (used by the tests to check the formula).
import { assert, type Random, upperBound } from '@ddia/common/core';
import { DistributionError } from './distributions.js';
import { simulateWars, type WarsResult, type WarsRun } from './wars.js';

/** The t values the simulator's SWEEP walks: startMs, startMs + stepMs, ... (count points). */
export interface SweepGrid {
  startMs: number;
  stepMs: number;
  count: number;
}

/** The simulator's grids (its flags F, M, L and the default). */
export const SWEEP_GRIDS = Object.freeze({
  /** `F`: 0 to 3.99 ms by 0.01 (LNKD-SSD). */
  fine: { startMs: 0, stepMs: 0.01, count: 400 },
  /** `M`: 0 to 149.9 ms by 0.1 (LNKD-DISK, WAN). */
  medium: { startMs: 0, stepMs: 0.1, count: 1500 },
  /** `L`: 1 to 1499 ms by 1 (YMMR). */
  long: { startMs: 1, stepMs: 1, count: 1499 },
  /** Default: 0 to 199 ms by 1. */
  coarse: { startMs: 0, stepMs: 1, count: 200 },
} satisfies Record<string, SweepGrid>);

export interface SweepProcedure {
  grid: SweepGrid;
  /** Fresh WARS trials per grid point (the paper's Table 4: 50,000). */
  itersPerT: number;
  /** The target stale probability (0.001 for 99.9% consistency). */
  pStale: number;
}

export const GRID_POINTS_MAX = 100_000;

export function validateSweep(p: SweepProcedure): void {
  const { startMs, stepMs, count } = p.grid;
  if (!Number.isFinite(startMs) || startMs < 0) throw new DistributionError('grid.startMs must be >= 0');
  if (!Number.isFinite(stepMs) || stepMs <= 0) throw new DistributionError('grid.stepMs must be > 0');
  if (!Number.isInteger(count) || count < 1 || count > GRID_POINTS_MAX)
    throw new DistributionError(`grid.count must be an integer in 1..${GRID_POINTS_MAX}`);
  if (!Number.isInteger(p.itersPerT) || p.itersPerT < 1 || p.itersPerT > 10_000_000)
    throw new DistributionError('itersPerT must be an integer in 1..10000000');
  if (!(p.pStale > 0 && p.pStale < 1)) throw new DistributionError('pStale must be within (0, 1)');
}

export function gridPoint(grid: SweepGrid, i: number): number {
  // Rounded to the grid's decimals, as the simulator's printed t (t += .01 accumulates error).
  return Math.round((grid.startMs + i * grid.stepMs) * 1e6) / 1e6;
}

/** The largest stale count a batch may show and still count as consistent (50 of 50,000). */
export function maxStaleCount(p: SweepProcedure): number {
  // The simulator prints 1 - stale/iters in float32 and the script compares it with >= 1 - pStale;
  // a tiny epsilon keeps floor(50000 * 0.001) = 50 from becoming 49.
  return Math.floor(p.itersPerT * p.pStale + 1e-9);
}

/** P(X <= c) for X ~ Binomial(n, q), summed term by term in log space (c is small). */
export function binomialCdf(n: number, q: number, c: number): number {
  assert(Number.isInteger(n) && n >= 0 && Number.isInteger(c), 'binomialCdf: integer n and c');
  if (c < 0) return 0;
  if (c >= n || q <= 0) return 1;
  if (q >= 1) return 0;
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  let logTerm = n * log1mQ;
  let sum = Math.exp(logTerm);
  for (let k = 1; k <= c; k++) {
    logTerm += Math.log((n - k + 1) / k) + logQ - log1mQ;
    sum += Math.exp(logTerm);
  }
  return Math.min(1, sum);
}

/** The distribution of the t the procedure reports. */
export interface SweepEstimate {
  /** Median, and the 2.5th and 97.5th percentiles of the reported t. */
  median: number;
  low95: number;
  high95: number;
  mean: number;
  /** P(reported t <= x). */
  cdf(x: number): number;
  /** The smallest grid t with P(reported t <= t) >= q (Infinity if the grid ends first). */
  quantile(q: number): number;
  /** Probability that the procedure never crosses within the grid. */
  pNoCrossing: number;
}

/**
 * The exact distribution of the first grid t at which a fresh batch of itersPerT reads shows at
 * most maxStaleCount stale ones, given q(t) = P(stale at t). Pass `staleAt` from a large WARS
 * sample (`staleProbabilityAt`), or a bound of it to carry our own sampling error through.
 */
export function sweepEstimatorDistribution(
  staleAt: (tMs: number) => number,
  procedure: SweepProcedure,
): SweepEstimate {
  validateSweep(procedure);
  const c = maxStaleCount(procedure);
  const points: { t: number; p: number }[] = [];
  let survive = 1;
  for (let i = 0; i < procedure.grid.count && survive > 1e-12; i++) {
    const t = gridPoint(procedure.grid, i);
    const b = binomialCdf(procedure.itersPerT, Math.min(1, Math.max(0, staleAt(t))), c);
    points.push({ t, p: survive * b });
    survive *= 1 - b;
  }
  const cdf = (x: number) => points.reduce((acc, pt) => (pt.t <= x + 1e-9 ? acc + pt.p : acc), 0);
  const quantile = (q: number) => {
    let acc = 0;
    for (const pt of points) {
      acc += pt.p;
      if (acc >= q) return pt.t;
    }
    return Number.POSITIVE_INFINITY;
  };
  const crossing = 1 - survive;
  return {
    median: quantile(0.5),
    low95: quantile(0.025),
    high95: quantile(0.975),
    mean: crossing > 0 ? points.reduce((acc, pt) => acc + pt.t * pt.p, 0) / crossing : Number.NaN,
    cdf,
    quantile,
    pNoCrossing: survive,
  };
}

/**
 * q(t) from a WARS sample, optionally moved by z standard errors (z = +1.96 / -1.96 give the
 * upper / lower 95% bound of our own estimate, so the comparison carries our sampling error too).
 */
export function staleProbabilityAt(result: WarsResult, z = 0): (tMs: number) => number {
  return (tMs) => {
    const q = 1 - upperBound(result.thresholdsMs, tMs) / result.trials;
    // At least one event's worth of uncertainty where we saw none (a rule-of-three floor).
    const se = Math.sqrt(Math.max(q * (1 - q), 1 / result.trials) / result.trials);
    return Math.min(1, Math.max(0, q + z * se));
  };
}

/**
 * The paper's interval for a t-visibility figure: where the authors' procedure would land with
 * probability `level` (0.95 or 0.99), widened by our own sampling error (the lower end from
 * q - z se, the upper from q + z se).
 */
export function sweepInterval(
  result: WarsResult,
  procedure: SweepProcedure,
  level: 0.95 | 0.99 = 0.95,
): { median: number; low: number; high: number; cdf: (x: number) => number } {
  const z = level === 0.95 ? 1.96 : 2.576;
  const tail = (1 - level) / 2;
  const mid = sweepEstimatorDistribution(staleProbabilityAt(result), procedure);
  const low = sweepEstimatorDistribution(staleProbabilityAt(result, -z), procedure);
  const high = sweepEstimatorDistribution(staleProbabilityAt(result, z), procedure);
  return { median: mid.median, low: low.quantile(tail), high: high.quantile(1 - tail), cdf: mid.cdf };
}

/**
 * The procedure itself, literally: a fresh batch of WARS trials at each grid t until one shows at
 * most maxStaleCount stale reads. Returns that t, or Infinity if the grid ends first.
 */
export function sweepFirstCrossing(
  run: Omit<WarsRun, 'trials'>,
  procedure: SweepProcedure,
  random: Random,
): number {
  validateSweep(procedure);
  const c = maxStaleCount(procedure);
  for (let i = 0; i < procedure.grid.count; i++) {
    const t = gridPoint(procedure.grid, i);
    const batch = simulateWars({ ...run, trials: procedure.itersPerT }, random);
    const stale = batch.trials - upperBound(batch.thresholdsMs, t);
    if (stale <= c) return t;
  }
  return Number.POSITIVE_INFINITY;
}
