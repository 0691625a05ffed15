// A confidence interval of the median that assumes nothing about the distribution: with n
// samples, the median lies between the k-th smallest and the k-th largest with the probability
// that a fair coin tossed n times shows at least k heads and at least k tails. Five rounds give
// min..max at 93.8 %; it is what a handful of rounds on a drifting VM supports.

export interface MedianInterval {
  median: number;
  low: number;
  high: number;
  /** The probability that [low, high] holds the true median (0 when n is too small to say). */
  confidence: number;
}

/** The confidence the interval must at least reach, when n allows. */
export const CONFIDENCE_WANTED = 0.9;

/** P(X < k) for X ~ Binomial(n, 1/2). */
function binomialBelow(n: number, k: number): number {
  let sum = 0;
  let choose = 1; // C(n, 0)
  for (let i = 0; i < k; i++) {
    sum += choose;
    choose = (choose * (n - i)) / (i + 1);
  }
  return sum / 2 ** n;
}

/** The median of `samples` and the narrowest order-statistic interval around it whose
 *  confidence is at least CONFIDENCE_WANTED (the widest, min..max, when none reaches it). */
export function medianInterval(samples: readonly number[]): MedianInterval {
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return { median: Number.NaN, low: Number.NaN, high: Number.NaN, confidence: 0 };
  const mid = Math.floor(n / 2);
  const median =
    n % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  // k counts from 1: [sorted[k-1], sorted[n-k]]; the widest (k = 1) is tried last.
  let k = 1;
  while (k + 1 <= Math.ceil(n / 2) && 1 - 2 * binomialBelow(n, k + 1) >= CONFIDENCE_WANTED) k++;
  return {
    median,
    low: sorted[k - 1] as number,
    high: sorted[n - k] as number,
    confidence: n < 2 ? 0 : 1 - 2 * binomialBelow(n, k),
  };
}
