// Range-vector functions, following Prometheus's definitions (promql/functions.go): rate,
// increase and delta extrapolate to the edges of the range the way Prometheus does, so that a
// differential test against Prometheus can expect equal numbers.

/**
 * rate/increase/delta over samples in [rangeStart, rangeEnd]. Prometheus's rules: at least two
 * samples; counter resets add the value before the reset; the result is extrapolated towards
 * each edge of the range by the gap to that edge, but only when the gap is under 110 % of the
 * average sample spacing (else by half a spacing); a counter is not extrapolated below zero.
 */
export function extrapolatedRate(
  timestamps: readonly number[],
  values: readonly number[],
  rangeStartMs: number,
  rangeEndMs: number,
  isCounter: boolean,
  isRate: boolean,
): number | null {
  const n = timestamps.length;
  if (n < 2) return null;
  const firstT = timestamps[0]!;
  const lastT = timestamps[n - 1]!;
  const firstV = values[0]!;
  let result = values[n - 1]! - firstV;
  if (isCounter) {
    let correction = 0;
    let prev = values[0]!;
    for (let i = 1; i < n; i++) {
      const v = values[i]!;
      if (v < prev) correction += prev;
      prev = v;
    }
    result += correction;
  }
  let durationToStart = (firstT - rangeStartMs) / 1000;
  const durationToEnd = (rangeEndMs - lastT) / 1000;
  const sampledInterval = (lastT - firstT) / 1000;
  const averageBetween = sampledInterval / (n - 1);
  if (isCounter && result > 0 && firstV >= 0) {
    // A counter starts at zero: do not extrapolate to before the time it would have been zero.
    const durationToZero = sampledInterval * (firstV / result);
    if (durationToZero < durationToStart) durationToStart = durationToZero;
  }
  const threshold = averageBetween * 1.1;
  let extrapolateTo = sampledInterval;
  extrapolateTo += durationToStart < threshold ? durationToStart : averageBetween / 2;
  extrapolateTo += durationToEnd < threshold ? durationToEnd : averageBetween / 2;
  result = result * (extrapolateTo / sampledInterval);
  if (isRate) result /= (rangeEndMs - rangeStartMs) / 1000;
  return result;
}

/** irate and idelta: from the last two samples only. */
export function instantRate(
  timestamps: readonly number[],
  values: readonly number[],
  isRate: boolean,
): number | null {
  const n = timestamps.length;
  if (n < 2) return null;
  const last = values[n - 1]!;
  const prev = values[n - 2]!;
  const result = isRate && last < prev ? last : last - prev;
  const intervalS = (timestamps[n - 1]! - timestamps[n - 2]!) / 1000;
  if (intervalS === 0) return null;
  return isRate ? result / intervalS : result;
}

/** The φ-quantile with linear interpolation between closest ranks, as Prometheus computes it. */
export function quantile(q: number, input: readonly number[]): number {
  if (input.length === 0) return Number.NaN;
  if (Number.isNaN(q)) return Number.NaN;
  if (q < 0) return Number.NEGATIVE_INFINITY;
  if (q > 1) return Number.POSITIVE_INFINITY;
  const values = [...input].sort((a, b) => a - b);
  const n = values.length;
  const rank = q * (n - 1);
  const lower = Math.max(0, Math.floor(rank));
  const upper = Math.min(n - 1, lower + 1);
  const weight = rank - Math.floor(rank);
  return values[lower]! * (1 - weight) + values[upper]! * weight;
}

export interface Bucket {
  upperBound: number;
  count: number;
}

/** histogram_quantile over classic buckets (Prometheus's bucketQuantile). */
export function bucketQuantile(q: number, input: Bucket[]): number {
  if (q < 0) return Number.NEGATIVE_INFINITY;
  if (q > 1) return Number.POSITIVE_INFINITY;
  const buckets = [...input].sort((a, b) => a.upperBound - b.upperBound);
  if (buckets.length < 2) return Number.NaN;
  if (buckets[buckets.length - 1]!.upperBound !== Number.POSITIVE_INFINITY) return Number.NaN;
  // Scrapes are not atomic: make the cumulative counts monotonic (Prometheus's ensureMonotonic).
  let max = Number.NEGATIVE_INFINITY;
  for (const b of buckets) {
    if (b.count > max) max = b.count;
    else b.count = max;
  }
  const total = buckets[buckets.length - 1]!.count;
  if (total === 0 || Number.isNaN(total)) return Number.NaN;
  let rank = q * total;
  let b = buckets.findIndex((bucket) => bucket.count >= rank);
  if (b === -1) b = buckets.length - 1;
  if (b === buckets.length - 1) return buckets[buckets.length - 2]!.upperBound;
  if (b === 0 && buckets[0]!.upperBound <= 0) return buckets[0]!.upperBound;
  let bucketStart = 0;
  const bucketEnd = buckets[b]!.upperBound;
  let count = buckets[b]!.count;
  if (b > 0) {
    bucketStart = buckets[b - 1]!.upperBound;
    count -= buckets[b - 1]!.count;
    rank -= buckets[b - 1]!.count;
  }
  return bucketStart + (bucketEnd - bucketStart) * (rank / count);
}

export function overTime(name: string, values: readonly number[], q = 0): number {
  const n = values.length;
  switch (name) {
    case 'sum_over_time':
      return values.reduce((a, b) => a + b, 0);
    case 'avg_over_time':
      return values.reduce((a, b) => a + b, 0) / n;
    case 'min_over_time':
      return values.reduce((a, b) => (b < a || Number.isNaN(a) ? b : a), values[0]!);
    case 'max_over_time':
      return values.reduce((a, b) => (b > a || Number.isNaN(a) ? b : a), values[0]!);
    case 'count_over_time':
      return n;
    case 'last_over_time':
      return values[n - 1]!;
    case 'present_over_time':
      return 1;
    case 'quantile_over_time':
      return quantile(q, values);
    case 'stddev_over_time':
    case 'stdvar_over_time': {
      const mean = values.reduce((a, b) => a + b, 0) / n;
      const variance = values.reduce((a, b) => a + (b - mean) * (b - mean), 0) / n;
      return name === 'stddev_over_time' ? Math.sqrt(variance) : variance;
    }
    case 'changes':
    case 'resets': {
      let count = 0;
      for (let i = 1; i < n; i++) {
        const changed =
          name === 'changes'
            ? values[i] !== values[i - 1] && !(Number.isNaN(values[i]!) && Number.isNaN(values[i - 1]!))
            : values[i]! < values[i - 1]!;
        if (changed) count++;
      }
      return count;
    }
    default:
      throw new Error(`not a range function: ${name}`);
  }
}
