// What every experiment takes and returns. `ddia geo run <name>` maps its flags onto
// ExperimentOptions; onProgress feeds the CLI's progress line.
import type { LatencyMatrix } from '../core/latency-matrix.js';
import type { WarsProfile } from '../core/wars.js';

export interface ExperimentProgress {
  experiment: string;
  /** 0..1 of the whole experiment. */
  fraction: number;
  message: string;
}

export interface ExperimentOptions {
  /** Directory for report.md and the plots (created if missing). */
  out: string;
  /** Everything random (Monte Carlo, jitter, workload) derives from this seed. Default 1. */
  seed?: number;
  /** wan | lnkd-ssd | lnkd-disk | ymmr, or a path to a custom JSON profile (see README). */
  profile?: string;
  /** Region ids (us,eu,ap by default), a list or comma-separated. */
  regions?: string[] | string;
  /** Smaller runs (CI smoke tests, `--quick`). */
  quick?: boolean;
  onProgress?: (progress: ExperimentProgress) => void;
}

/** The options after defaults and profile resolution. */
export interface ResolvedOptions {
  out: string;
  seed: number;
  quick: boolean;
  regions: string[];
  /** The WARS profiles this run is about (one named, or all four). */
  warsProfiles: WarsProfile[];
  /** The inter-region matrix for real-process experiments. */
  matrix: LatencyMatrix;
  progress: (fraction: number, message: string) => void;
}

export interface ExperimentResult {
  name: string;
  reportPath: string;
  /** Files written into `out`, report.md last. */
  files: string[];
  /** The report's markdown (also in report.md). */
  markdown: string;
}

export interface Experiment {
  name: string;
  description: string;
  run(options: ResolvedOptions): Promise<ExperimentResult>;
}

/** A user's mistake in the options (unknown experiment, bad profile file): exit 2 in the CLI. */
export class ExperimentUsageError extends Error {
  override name = 'ExperimentUsageError';
}
