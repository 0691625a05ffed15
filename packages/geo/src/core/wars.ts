// The PBS WARS model (Bailis et al., "Probabilistically Bounded Staleness for Practical Partial
// Quorums", VLDB 2012, §5.1) as a Monte Carlo simulation.
//
// A Dynamo-style coordinator sends a write to all N replicas; replica i receives it after W_i and
// its ack travels back for A_i. The write commits when the W-th ack arrives: w_t = the W-th
// smallest (W_i + A_i). A read started t ms after commit is also sent to all N; replica i gets the
// request after R_i and its response travels back for S_i; the coordinator answers from the first
// R responders (smallest R_i + S_i). Replica i returns the new version iff the write reached it
// before the read did: w_t + t + R_i >= W_i. The read is consistent if any of the R does.
//
// Rearranged, trial j is consistent at t iff t >= tau_j = min over the R responders of
// (W_i - w_t - R_i). So one set of samples answers every t at once: P(consistent at t) is the
// fraction of trials with tau_j <= t, and "t for 99.9% consistency" is the 99.9th percentile of
// tau (clamped at 0). That is exact for the sampled trials, not a grid approximation.
import { assert, type Random, upperBound } from '@ddia/common/core';
import {
  compileSampler,
  type Distribution,
  DistributionError,
  validateDistribution,
} from './distributions.js';

/** The four one-way latency distributions of the WARS model, plus an optional WAN hop. */
export interface WarsProfile {
  name: string;
  description: string;
  /** Write request, coordinator -> replica. */
  w: Distribution;
  /** Write ack, replica -> coordinator. */
  a: Distribution;
  /** Read request, coordinator -> replica. */
  r: Distribution;
  /** Read response, replica -> coordinator. */
  s: Distribution;
  /**
   * Replicas in different datacenters (PBS §5.2 "WAN"): one replica per datacenter; each
   * operation's coordinator sits in a datacenter drawn uniformly per operation, and every message
   * to or from a replica in another datacenter takes delayMs more each way.
   */
  wan?: { delayMs: number };
}

export const REPLICAS_MAX = 64;
export const TRIALS_MAX = 20_000_000;

export interface QuorumConfig {
  n: number;
  r: number;
  w: number;
}

export function validateQuorum(q: QuorumConfig): void {
  const ok = (x: number) => Number.isInteger(x) && x >= 1;
  if (!ok(q.n) || q.n > REPLICAS_MAX)
    throw new DistributionError(`N must be an integer in 1..${REPLICAS_MAX}`);
  if (!ok(q.r) || q.r > q.n) throw new DistributionError(`R must be an integer in 1..N (N=${q.n})`);
  if (!ok(q.w) || q.w > q.n) throw new DistributionError(`W must be an integer in 1..N (N=${q.n})`);
}

/** One replica's four distributions, as seen from the write's and the read's coordinators. */
export interface ReplicaLatencies {
  w: Distribution;
  a: Distribution;
  r: Distribution;
  s: Distribution;
}

export interface WarsRun extends QuorumConfig {
  profile: WarsProfile;
  trials: number;
  /**
   * Per-replica distributions (length N), overriding the profile's shared ones: for a fixed
   * placement, e.g. the write coordinated in one region and the read in another, where replica i's
   * W and A are the path between the write's coordinator and i, and R and S the read's.
   */
  replicas?: ReplicaLatencies[];
}

/** The outcome of a Monte Carlo run: sorted per-trial values, queried by the functions below. */
export interface WarsResult extends QuorumConfig {
  profileName: string;
  trials: number;
  /** tau_j per trial, ascending: trial j is consistent for every t >= tau_j. */
  thresholdsMs: Float64Array;
  /** Write latency (commit time w_t) per trial, ascending. */
  writeLatenciesMs: Float64Array;
  /** Read latency (the R-th fastest R_i + S_i) per trial, ascending. */
  readLatenciesMs: Float64Array;
}

export function simulateWars(run: WarsRun, random: Random): WarsResult {
  const { n, r, w, trials, profile } = run;
  validateQuorum(run);
  if (!Number.isInteger(trials) || trials < 1 || trials > TRIALS_MAX)
    throw new DistributionError(`trials must be an integer in 1..${TRIALS_MAX}`);
  for (const key of ['w', 'a', 'r', 's'] as const) validateDistribution(profile[key], `profile.${key}`);
  const wanDelayMs = profile.wan?.delayMs ?? 0;
  if (!Number.isFinite(wanDelayMs) || wanDelayMs < 0)
    throw new DistributionError('profile.wan.delayMs must be >= 0');

  if (run.replicas !== undefined && run.replicas.length !== n)
    throw new DistributionError(`replicas must list N = ${n} replicas, got ${run.replicas.length}`);
  const per = (key: keyof ReplicaLatencies) =>
    Array.from({ length: n }, (_, i) => compileSampler(run.replicas ? run.replicas[i]![key] : profile[key]));
  const sampleW = per('w');
  const sampleA = per('a');
  const sampleR = per('r');
  const sampleS = per('s');

  const thresholds = new Float64Array(trials);
  const writes = new Float64Array(trials);
  const reads = new Float64Array(trials);
  const wArrive = new Float64Array(n);
  const wRound = new Float64Array(n);
  const rArrive = new Float64Array(n);
  const rRound = new Float64Array(n);
  const order: number[] = Array.from({ length: n }, (_, i) => i);
  const sortedWrite: number[] = new Array(n).fill(0);

  for (let j = 0; j < trials; j++) {
    const writeDc = wanDelayMs > 0 ? Math.floor(random.next() * n) : -1;
    const readDc = wanDelayMs > 0 ? Math.floor(random.next() * n) : -1;
    for (let i = 0; i < n; i++) {
      let wi = sampleW[i]!(random);
      let ai = sampleA[i]!(random);
      if (wanDelayMs > 0 && i !== writeDc) {
        wi += wanDelayMs;
        ai += wanDelayMs;
      }
      let ri = sampleR[i]!(random);
      let si = sampleS[i]!(random);
      if (wanDelayMs > 0 && i !== readDc) {
        ri += wanDelayMs;
        si += wanDelayMs;
      }
      wArrive[i] = wi;
      wRound[i] = wi + ai;
      rArrive[i] = ri;
      rRound[i] = ri + si;
    }
    // The W-th smallest round trip (an insertion sort: N is a handful, and typed-array sort per
    // trial cost more than the sampling).
    for (let i = 0; i < n; i++) {
      const x = wRound[i]!;
      let k = i - 1;
      while (k >= 0 && sortedWrite[k]! > x) {
        sortedWrite[k + 1] = sortedWrite[k]!;
        k--;
      }
      sortedWrite[k + 1] = x;
    }
    const commitMs = sortedWrite[w - 1]!;
    // The R fastest read responders (N is small: an insertion sort of indices is cheapest).
    for (let i = 0; i < n; i++) order[i] = i;
    for (let i = 1; i < n; i++) {
      const x = order[i]!;
      let k = i - 1;
      while (k >= 0 && rRound[order[k]!]! > rRound[x]!) {
        order[k + 1] = order[k]!;
        k--;
      }
      order[k + 1] = x;
    }
    let tau = Number.POSITIVE_INFINITY;
    for (let k = 0; k < r; k++) {
      const i = order[k]!;
      const needMs = wArrive[i]! - commitMs - rArrive[i]!;
      if (needMs < tau) tau = needMs;
    }
    thresholds[j] = tau;
    writes[j] = commitMs;
    reads[j] = rRound[order[r - 1]!]!;
  }
  thresholds.sort();
  writes.sort();
  reads.sort();
  return {
    n,
    r,
    w,
    trials,
    profileName: profile.name,
    thresholdsMs: thresholds,
    writeLatenciesMs: writes,
    readLatenciesMs: reads,
  };
}

/** An estimate with its Monte Carlo standard error. */
export interface Estimate {
  value: number;
  /** One standard error (binomial: sqrt(p(1-p)/trials)). */
  stdErr: number;
}

/** P(a read started t ms after commit returns the write or a newer one). */
export function pConsistent(result: WarsResult, tMs: number): Estimate {
  const p = upperBound(result.thresholdsMs, tMs) / result.trials;
  return { value: p, stdErr: Math.sqrt((p * (1 - p)) / result.trials) };
}

/** An order-statistic estimate of a percentile with a ~95% confidence interval. */
export interface PercentileEstimate {
  value: number;
  low95: number;
  high95: number;
}

/**
 * The q-quantile of a sorted sample with a distribution-free 95% interval: the ranks
 * n*q -/+ 1.96*sqrt(n*q*(1-q)) of the order statistics bound the true quantile.
 */
export function percentile(
  sorted: Float64Array,
  q: number,
  floor = Number.NEGATIVE_INFINITY,
): PercentileEstimate {
  assert(sorted.length > 0, 'percentile of an empty sample');
  assert(q >= 0 && q <= 1, 'q must be within [0, 1]');
  const n = sorted.length;
  const at = (rank: number) => Math.max(floor, sorted[Math.min(n - 1, Math.max(0, Math.ceil(rank) - 1))]!);
  const spread = 1.96 * Math.sqrt(n * q * (1 - q));
  return { value: at(n * q), low95: at(n * q - spread), high95: at(n * q + spread + 1) };
}

/** The smallest t >= 0 at which P(consistent) >= p (PBS "t-visibility" for probability p). */
export function tVisibility(result: WarsResult, p: number): PercentileEstimate {
  return percentile(result.thresholdsMs, p, 0);
}

/** P(consistent) at each t, for plots. */
export function tVisibilityCurve(
  result: WarsResult,
  timesMs: readonly number[],
): { tMs: number; p: number }[] {
  return timesMs.map((tMs) => ({ tMs, p: pConsistent(result, tMs).value }));
}

/** C(n, k) for the small n of replica counts. */
export function binomial(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  let c = 1;
  for (let i = 1; i <= k; i++) c = (c * (n - k + i)) / i;
  return Math.round(c);
}

/**
 * PBS k-staleness (§3.2, closed form): with read and write quorums chosen uniformly at random
 * and no anti-entropy, P(a read returns none of the last k committed versions) =
 * (C(N-W, R) / C(N, R))^k. Strict quorums (R + W > N) give 0.
 */
export function pStaleKVersions(q: QuorumConfig, k: number): number {
  validateQuorum(q);
  if (!Number.isInteger(k) || k < 1) throw new DistributionError('k must be an integer >= 1');
  return (binomial(q.n - q.w, q.r) / binomial(q.n, q.r)) ** k;
}

/**
 * The same k-staleness by simulation of random quorums (a check on the closed form): k writes
 * each reach a random W-subset, a read asks a random R-subset; stale if it meets none of them.
 */
export function simulateKStaleness(q: QuorumConfig, k: number, trials: number, random: Random): Estimate {
  validateQuorum(q);
  const replicas = Array.from({ length: q.n }, (_, i) => i);
  let stale = 0;
  for (let j = 0; j < trials; j++) {
    const written = new Set<number>();
    for (let v = 0; v < k; v++) for (const i of random.shuffle(replicas).slice(0, q.w)) written.add(i);
    const read = random.shuffle(replicas).slice(0, q.r);
    if (!read.some((i) => written.has(i))) stale++;
  }
  const p = stale / trials;
  return { value: p, stdErr: Math.sqrt((p * (1 - p)) / trials) };
}

/** k-staleness in the WARS model: several writes in a row, one read after the last commits. */
export interface VersionsRun extends WarsRun {
  /** Writes of one key, version 1..versions, sent writeGapMs apart by one coordinator. */
  versions: number;
  writeGapMs: number;
  /** The read starts this long after the last write commits. */
  readAfterMs: number;
}

/**
 * PBS k-staleness with WARS latencies (§3.2 combined with §5.1): version v is sent at
 * (v-1) * gap; replica i has it once (v-1) * gap + W_{v,i} has passed. The read starts readAfterMs
 * after the last version commits, takes the R fastest responders, and returns the newest version
 * any of them holds. Returns, for each b in 0..versions, the fraction of trials whose read was b
 * versions behind the last write (versions = none seen at all).
 */
export function simulateVersionsBehind(run: VersionsRun, random: Random): number[] {
  const { n, r, w, trials, versions, writeGapMs, readAfterMs } = run;
  validateQuorum(run);
  if (!Number.isInteger(versions) || versions < 1 || versions > 100)
    throw new DistributionError('versions must be an integer in 1..100');
  if (!(writeGapMs >= 0) || !(readAfterMs >= 0)) throw new DistributionError('gaps must be >= 0 ms');
  if (!Number.isInteger(trials) || trials < 1 || trials > TRIALS_MAX)
    throw new DistributionError(`trials must be an integer in 1..${TRIALS_MAX}`);
  const pick = (i: number, key: keyof ReplicaLatencies) =>
    compileSampler(run.replicas ? run.replicas[i]![key] : run.profile[key]);
  const sW = Array.from({ length: n }, (_, i) => pick(i, 'w'));
  const sA = Array.from({ length: n }, (_, i) => pick(i, 'a'));
  const sR = Array.from({ length: n }, (_, i) => pick(i, 'r'));
  const sS = Array.from({ length: n }, (_, i) => pick(i, 's'));
  const counts = new Array<number>(versions + 1).fill(0);
  const arrive: number[][] = Array.from({ length: n }, () => new Array<number>(versions).fill(0));
  for (let j = 0; j < trials; j++) {
    let lastCommit = 0;
    for (let v = 0; v < versions; v++) {
      const sent = v * writeGapMs;
      const rounds: number[] = [];
      for (let i = 0; i < n; i++) {
        const wi = sW[i]!(random);
        arrive[i]![v] = sent + wi;
        rounds.push(wi + sA[i]!(random));
      }
      rounds.sort((a, b) => a - b);
      lastCommit = sent + rounds[w - 1]!;
    }
    const start = lastCommit + readAfterMs;
    const responders = Array.from({ length: n }, (_, i) => {
      const ri = sR[i]!(random);
      return { i, at: start + ri, round: ri + sS[i]!(random) };
    }).sort((a, b) => a.round - b.round);
    let newest = 0;
    for (let k = 0; k < r; k++) {
      const { i, at } = responders[k]!;
      for (let v = versions; v > newest; v--) {
        if (arrive[i]![v - 1]! <= at) {
          newest = v;
          break;
        }
      }
    }
    counts[versions - newest]!++;
  }
  return counts.map((c) => c / trials);
}
