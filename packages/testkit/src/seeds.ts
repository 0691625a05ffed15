// The seeds a seeded test runs, the same way in every package: `DDIA_SEED=<n>` replays seed n
// alone (what a failing test prints), `DDIA_LONG=1` runs the long sweep, and otherwise the short
// one that CI can afford. Seeds count from 1, so a sweep's first seeds are the CI run's.

/** True under `DDIA_LONG=1`: tests run their long sweeps and bigger workloads. */
export function longRun(env: Record<string, string | undefined> = process.env): boolean {
  return env.DDIA_LONG === '1';
}

/** The seed `DDIA_SEED` asks to replay, or null. A value that is not an integer is an error. */
export function replaySeed(env: Record<string, string | undefined> = process.env): number | null {
  const text = env.DDIA_SEED;
  if (text === undefined || text === '') return null;
  const seed = Number(text);
  if (!Number.isSafeInteger(seed)) throw new RangeError(`DDIA_SEED must be an integer, got '${text}'`);
  return seed;
}

/** `[DDIA_SEED]` when replaying; else seeds 1..long under DDIA_LONG=1, 1..short otherwise. */
export function testSeeds(
  counts: { short: number; long: number },
  env: Record<string, string | undefined> = process.env,
): number[] {
  const replay = replaySeed(env);
  if (replay !== null) return [replay];
  const count = longRun(env) ? counts.long : counts.short;
  return Array.from({ length: count }, (_, i) => i + 1);
}
