// The experiment registry behind `ddia geo list` and `ddia geo run <name>`.
import { readFile } from 'node:fs/promises';
import { DistributionError, validateDistribution } from '../core/distributions.js';
import { type LatencyMatrix, parseRegions, validateMatrix, wanMatrix } from '../core/latency-matrix.js';
import { PBS_PROFILES } from '../core/profiles.js';
import type { WarsProfile } from '../core/wars.js';
import { leaderFailover } from './leader-failover.js';
import { leaderlessVisibility } from './leaderless-visibility.js';
import { pbsPaper } from './pbs-paper.js';
import { pbsSweep } from './pbs-sweep.js';
import { proxyLatency } from './proxy-latency.js';
import { quorumLevels } from './quorum-levels.js';
import { quorumLevelsMeasured } from './quorum-levels-measured.js';
import { raftRegions } from './raft-regions.js';
import {
  type Experiment,
  type ExperimentOptions,
  type ExperimentResult,
  ExperimentUsageError,
  type ResolvedOptions,
} from './types.js';
import { visibilityTail } from './visibility-tail.js';

export * from './types.js';

export const EXPERIMENTS: readonly Experiment[] = [
  pbsPaper,
  pbsSweep,
  quorumLevels,
  quorumLevelsMeasured,
  proxyLatency,
  raftRegions,
  leaderlessVisibility,
  visibilityTail,
  leaderFailover,
];

export const DEFAULT_REGIONS = ['us', 'eu', 'ap'];
export const CUSTOM_PROFILE_BYTES_MAX = 1024 * 1024;

/** One entry per experiment, name first: what `ddia geo list` prints. */
export function listExperiments(): { name: string; description: string }[] {
  return EXPERIMENTS.map(({ name, description }) => ({ name, description }));
}

/**
 * Resolves --profile: a PBS profile name, `wan`, or a JSON file holding either a WARS profile
 * ({"name", "w", "a", "r", "s", optional "wan": {"delayMs"}}) or a region matrix
 * ({"regions": [...], "links": {from: {to: {latencyMs, jitterMs}}}, "intra": {...}}).
 */
async function resolveProfile(
  profile: string | undefined,
  regions: string[],
): Promise<{ warsProfiles: WarsProfile[]; matrix: LatencyMatrix }> {
  const defaultMatrix = () => wanMatrix(regions);
  if (profile === undefined) return { warsProfiles: Object.values(PBS_PROFILES), matrix: defaultMatrix() };
  const named = PBS_PROFILES[profile];
  if (named) return { warsProfiles: [named], matrix: defaultMatrix() };
  if (!profile.endsWith('.json'))
    throw new ExperimentUsageError(
      `--profile must be one of ${Object.keys(PBS_PROFILES).join(', ')} or a .json file, got '${profile}'`,
    );
  let text: string;
  try {
    text = await readFile(profile, 'utf8');
  } catch (err) {
    throw new ExperimentUsageError(`--profile ${profile}: ${(err as Error).message}`);
  }
  if (text.length > CUSTOM_PROFILE_BYTES_MAX)
    throw new ExperimentUsageError(`--profile ${profile}: over 1 MiB`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ExperimentUsageError(`--profile ${profile}: not JSON (${(err as Error).message})`);
  }
  try {
    const obj = parsed as Record<string, unknown>;
    if (obj && typeof obj === 'object' && 'links' in obj) {
      const matrix = validateMatrix(obj as unknown as LatencyMatrix);
      return { warsProfiles: Object.values(PBS_PROFILES), matrix };
    }
    if (obj && typeof obj === 'object' && 'w' in obj) {
      const p = obj as unknown as WarsProfile;
      for (const key of ['w', 'a', 'r', 's'] as const) validateDistribution(p[key], key);
      const wars: WarsProfile = {
        name: String(p.name ?? 'custom'),
        description: String(p.description ?? `custom profile from ${profile}`),
        w: p.w,
        a: p.a,
        r: p.r,
        s: p.s,
        ...(p.wan ? { wan: { delayMs: Number(p.wan.delayMs) } } : {}),
      };
      return { warsProfiles: [wars], matrix: defaultMatrix() };
    }
  } catch (err) {
    if (err instanceof DistributionError)
      throw new ExperimentUsageError(`--profile ${profile}: ${err.message}`);
    throw err;
  }
  throw new ExperimentUsageError(
    `--profile ${profile}: expected a WARS profile (w, a, r, s) or a region matrix (regions, links, intra)`,
  );
}

export async function runExperiment(name: string, options: ExperimentOptions): Promise<ExperimentResult> {
  const experiment = EXPERIMENTS.find((e) => e.name === name);
  if (!experiment)
    throw new ExperimentUsageError(
      `unknown experiment '${name}' (experiments: ${EXPERIMENTS.map((e) => e.name).join(', ')})`,
    );
  if (typeof options.out !== 'string' || options.out === '')
    throw new ExperimentUsageError('--out DIR is required');
  const seed = options.seed ?? 1;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
    throw new ExperimentUsageError(`--seed must be an integer in 0..${0xffffffff}`);
  let regions: string[];
  try {
    regions = parseRegions(options.regions ?? DEFAULT_REGIONS);
  } catch (err) {
    throw new ExperimentUsageError((err as Error).message);
  }
  let resolved: { warsProfiles: WarsProfile[]; matrix: LatencyMatrix };
  try {
    resolved = await resolveProfile(options.profile, regions);
  } catch (err) {
    if (err instanceof DistributionError) throw new ExperimentUsageError(err.message);
    throw err;
  }
  const onProgress = options.onProgress;
  const run: ResolvedOptions = {
    out: options.out,
    seed,
    quick: options.quick ?? false,
    regions: resolved.matrix.regions,
    warsProfiles: resolved.warsProfiles,
    matrix: resolved.matrix,
    progress: (fraction, message) =>
      onProgress?.({ experiment: name, fraction: Math.min(1, Math.max(0, fraction)), message }),
  };
  return experiment.run(run);
}
