// The setting the real-process experiment tests share: one node per region (us, eu, ap) and the
// WAN matrix at half scale, so that a test pays half the book's round trips and still measures
// latencies that follow from the injected ones (assertions scale with `rttMs(matrix, …)`).
import { wanMatrix } from '../../src/core/latency-matrix.js';
import type { ResolvedOptions } from '../../src/experiments/types.js';

export const regions = ['us', 'eu', 'ap'];
export const matrix = wanMatrix(regions, 0.5);

/** What `ddia geo run <experiment> --quick` would resolve to, with the half-scale matrix and no output. */
export const halfScaleOptions: ResolvedOptions = {
  out: '/dev/null',
  seed: 1,
  quick: true,
  regions,
  warsProfiles: [],
  matrix,
  progress: () => {},
};
