// Finding hot keys in a sample (DDIA ch. 10, "Handling skew"): Pig's skewed join first runs a
// sampling job to find which keys are hot, then spreads each hot key's records over several
// reducers and copies the other side's record for that key to all of them. Here the sample is
// the keys the job's own map emits on a few evenly spaced splits.
//
// With R reducers each should get about 1/R of the records. A key whose share of the sample is
// s would alone load one reducer with s; it is hot when s exceeds `targetShare`/R (default: half
// a reducer's fair share), and it is spread over ceil(s·R / targetShare) reducers (at most R),
// so each piece is again at most about half a fair share.

/** Below this many sampled occurrences a key's share is too noisy to act on. */
export const HOT_KEY_MIN_SAMPLES = 10;
export const TARGET_SHARE_DEFAULT = 0.5;

/** Hot keys of a sample, each with the number of reducers to spread it over (≥ 2). */
export function findHotKeys(
  sample: readonly string[],
  reduces: number,
  targetShare = TARGET_SHARE_DEFAULT,
): Record<string, number> {
  const hot: Record<string, number> = {};
  if (reduces < 2 || sample.length === 0 || !(targetShare > 0)) return hot;
  const counts = new Map<string, number>();
  for (const key of sample) counts.set(key, (counts.get(key) ?? 0) + 1);
  for (const [key, count] of counts) {
    if (count < HOT_KEY_MIN_SAMPLES) continue;
    const share = count / sample.length;
    const fanout = Math.min(reduces, Math.ceil((share * reduces) / targetShare));
    if (fanout >= 2) hot[key] = fanout;
  }
  return hot;
}
