// Binary search over an ascending array (timestamps, latency samples): C++'s lower_bound and
// upper_bound, so each caller does not carry its own copy of the loop and its off-by-ones.

/** The first index whose value is >= x (the array's length if none): how many values are < x. */
export function lowerBound(sorted: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as number) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The first index whose value is > x (the array's length if none): how many values are <= x. */
export function upperBound(sorted: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as number) <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
