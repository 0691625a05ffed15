// One-way delay distributions, in milliseconds, sampled from a seeded Random so that every
// Monte Carlo run and every injected-latency schedule replays from its seed.
//
// The shapes are the ones the PBS paper (Bailis et al., VLDB 2012, §5.2 and Table 3) fitted to
// LinkedIn's and Yammer's production latencies: a Pareto body (most requests, a hard minimum)
// mixed with an exponential tail (the slow few). Constant-plus-jitter is what the fault proxy
// and `tc netem delay X Y` inject; an empirical distribution replays measured samples.
import type { Random } from '@ddia/common/core';

export type Distribution =
  /** Pareto(xm, alpha): P(X > x) = (xm / x)^alpha for x >= xm. */
  | { kind: 'pareto'; xmMs: number; alpha: number }
  /** Exponential with rate lambda per ms: mean 1 / lambda. */
  | { kind: 'exponential'; ratePerMs: number }
  /** ms plus a uniform sample in [-jitterMs, +jitterMs], never below 0 (as the fault proxy does). */
  | { kind: 'constant'; ms: number; jitterMs?: number }
  /** Draws a component by weight, then samples it. Weights need not sum to 1. */
  | { kind: 'mixture'; components: { weight: number; dist: Distribution }[] }
  /** Adds offsetMs to every sample of dist (a WAN hop on top of a local distribution). */
  | { kind: 'shifted'; offsetMs: number; dist: Distribution }
  /** Draws uniformly from measured samples. */
  | { kind: 'empirical'; samplesMs: number[] }
  /** The sum of independent samples of each part (an injected delay plus a measured overhead). */
  | { kind: 'sum'; parts: Distribution[] };

/** Bad distribution parameters: the caller's input, reported with the offending field. */
export class DistributionError extends Error {
  override name = 'DistributionError';
}

/** Upper bound on any parameter in ms, so that a typo cannot make an experiment run for hours. */
export const DELAY_MS_MAX = 600_000;
/** Bound on mixture nesting and empirical sample counts. */
export const MIXTURE_COMPONENTS_MAX = 64;
export const EMPIRICAL_SAMPLES_MAX = 1_000_000;

export function validateDistribution(dist: Distribution, path = 'distribution'): void {
  const finite = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n);
  const inRange = (n: unknown, field: string, min: number, max: number, openMin = false) => {
    if (!finite(n) || n < min || (openMin && n === min) || n > max)
      throw new DistributionError(
        `${path}.${field} must be a number in ${openMin ? '(' : '['}${min}, ${max}]`,
      );
  };
  if (typeof dist !== 'object' || dist === null) throw new DistributionError(`${path} must be an object`);
  switch (dist.kind) {
    case 'pareto':
      inRange(dist.xmMs, 'xmMs', 0, DELAY_MS_MAX, true);
      inRange(dist.alpha, 'alpha', 0, 1000, true);
      return;
    case 'exponential':
      inRange(dist.ratePerMs, 'ratePerMs', 0, 1e6, true);
      return;
    case 'constant':
      inRange(dist.ms, 'ms', 0, DELAY_MS_MAX);
      if (dist.jitterMs !== undefined) inRange(dist.jitterMs, 'jitterMs', 0, DELAY_MS_MAX);
      return;
    case 'mixture': {
      if (!Array.isArray(dist.components) || dist.components.length === 0)
        throw new DistributionError(`${path}.components must be a non-empty array`);
      if (dist.components.length > MIXTURE_COMPONENTS_MAX)
        throw new DistributionError(`${path}.components has more than ${MIXTURE_COMPONENTS_MAX} entries`);
      dist.components.forEach((c, i) => {
        inRange(c?.weight, `components[${i}].weight`, 0, 1e9, true);
        validateDistribution(c.dist, `${path}.components[${i}].dist`);
      });
      return;
    }
    case 'shifted':
      inRange(dist.offsetMs, 'offsetMs', 0, DELAY_MS_MAX);
      validateDistribution(dist.dist, `${path}.dist`);
      return;
    case 'empirical':
      if (!Array.isArray(dist.samplesMs) || dist.samplesMs.length === 0)
        throw new DistributionError(`${path}.samplesMs must be a non-empty array`);
      if (dist.samplesMs.length > EMPIRICAL_SAMPLES_MAX)
        throw new DistributionError(`${path}.samplesMs has more than ${EMPIRICAL_SAMPLES_MAX} samples`);
      dist.samplesMs.forEach((s, i) => {
        inRange(s, `samplesMs[${i}]`, 0, DELAY_MS_MAX);
      });
      return;
    case 'sum':
      if (!Array.isArray(dist.parts) || dist.parts.length === 0 || dist.parts.length > MIXTURE_COMPONENTS_MAX)
        throw new DistributionError(
          `${path}.parts must be an array of 1..${MIXTURE_COMPONENTS_MAX} distributions`,
        );
      dist.parts.forEach((part, i) => {
        validateDistribution(part, `${path}.parts[${i}]`);
      });
      return;
    default:
      throw new DistributionError(
        `${path}.kind must be pareto, exponential, constant, mixture, shifted, empirical or sum, got ${String(
          (dist as { kind?: unknown }).kind,
        )}`,
      );
  }
}

/**
 * A sampler compiled once from a distribution: experiments draw millions of samples, so the
 * tree is turned into closures rather than re-interpreted per sample.
 */
export type Sampler = (random: Random) => number;

export function compileSampler(dist: Distribution): Sampler {
  validateDistribution(dist);
  return compile(dist);
}

function compile(dist: Distribution): Sampler {
  switch (dist.kind) {
    case 'pareto': {
      const { xmMs, alpha } = dist;
      const inv = 1 / alpha;
      // Inverse CDF: x = xm / U^(1/alpha), with U in (0, 1] (1 - next() avoids U = 0).
      return (random) => xmMs / (1 - random.next()) ** inv;
    }
    case 'exponential': {
      const { ratePerMs } = dist;
      return (random) => -Math.log(1 - random.next()) / ratePerMs;
    }
    case 'constant': {
      const { ms } = dist;
      const jitterMs = dist.jitterMs ?? 0;
      if (jitterMs === 0) return () => ms;
      return (random) => Math.max(0, ms + (random.next() * 2 - 1) * jitterMs);
    }
    case 'mixture': {
      const total = dist.components.reduce((sum, c) => sum + c.weight, 0);
      const cumulative: number[] = [];
      let acc = 0;
      for (const c of dist.components) {
        acc += c.weight / total;
        cumulative.push(acc);
      }
      cumulative[cumulative.length - 1] = 1;
      const samplers = dist.components.map((c) => compile(c.dist));
      if (samplers.length === 1) return samplers[0]!;
      return (random) => {
        const u = random.next();
        let i = 0;
        while (u >= cumulative[i]!) i++;
        return samplers[i]!(random);
      };
    }
    case 'shifted': {
      const inner = compile(dist.dist);
      const { offsetMs } = dist;
      return (random) => offsetMs + inner(random);
    }
    case 'empirical': {
      const samples = dist.samplesMs.slice();
      return (random) => samples[Math.floor(random.next() * samples.length)]!;
    }
    case 'sum': {
      const parts = dist.parts.map(compile);
      return (random) => {
        let total = 0;
        for (const part of parts) total += part(random);
        return total;
      };
    }
  }
}

/** The distribution's mean in ms (Infinity for a Pareto with alpha <= 1). */
export function meanMs(dist: Distribution): number {
  switch (dist.kind) {
    case 'pareto':
      return dist.alpha <= 1 ? Number.POSITIVE_INFINITY : (dist.alpha * dist.xmMs) / (dist.alpha - 1);
    case 'exponential':
      return 1 / dist.ratePerMs;
    case 'constant':
      // Clamping at 0 shifts the mean only when jitter exceeds the delay.
      return dist.ms;
    case 'mixture': {
      const total = dist.components.reduce((sum, c) => sum + c.weight, 0);
      return dist.components.reduce((sum, c) => sum + (c.weight / total) * meanMs(c.dist), 0);
    }
    case 'shifted':
      return dist.offsetMs + meanMs(dist.dist);
    case 'empirical':
      return dist.samplesMs.reduce((a, b) => a + b, 0) / dist.samplesMs.length;
    case 'sum':
      return dist.parts.reduce((sum, part) => sum + meanMs(part), 0);
  }
}

/** A short human description, for reports ("91.22% Pareto(0.235, 10) + 8.78% Exp(1.66)"). */
export function describe(dist: Distribution): string {
  switch (dist.kind) {
    case 'pareto':
      return `Pareto(xm=${dist.xmMs} ms, α=${dist.alpha})`;
    case 'exponential':
      return `Exp(λ=${dist.ratePerMs}/ms)`;
    case 'constant':
      return dist.jitterMs ? `${dist.ms} ± ${dist.jitterMs} ms` : `${dist.ms} ms`;
    case 'mixture': {
      const total = dist.components.reduce((sum, c) => sum + c.weight, 0);
      return dist.components
        .map((c) => `${Number(((100 * c.weight) / total).toFixed(2))}% ${describe(c.dist)}`)
        .join(' + ');
    }
    case 'shifted':
      return `${dist.offsetMs} ms + (${describe(dist.dist)})`;
    case 'empirical':
      return `empirical (${dist.samplesMs.length} samples)`;
    case 'sum':
      return dist.parts.map(describe).join(' + ');
  }
}

// Shorthands for building profiles.
export const pareto = (xmMs: number, alpha: number): Distribution => ({ kind: 'pareto', xmMs, alpha });
export const exponential = (ratePerMs: number): Distribution => ({ kind: 'exponential', ratePerMs });
export const constant = (ms: number, jitterMs = 0): Distribution => ({ kind: 'constant', ms, jitterMs });
export const mixture = (...components: [weight: number, dist: Distribution][]): Distribution => ({
  kind: 'mixture',
  components: components.map(([weight, dist]) => ({ weight, dist })),
});
export const shifted = (offsetMs: number, dist: Distribution): Distribution => ({
  kind: 'shifted',
  offsetMs,
  dist,
});
export const sum = (...parts: Distribution[]): Distribution => ({ kind: 'sum', parts });
