// Fault schedules: a list of timed actions, either written by hand (scripted) or drawn from a
// seed (random). A schedule is plain JSON, so the exact faults of a failed run can be saved and
// replayed. Pure: no clock, no I/O; the runner executes it.
import { SeededRandom } from '@ddia/common';
import type { CutLink } from '../proxy/network.js';
import { PARTITION_SHAPES, type PartitionShape, partitionShape } from './shapes.js';

export type NemesisAction =
  | { op: 'kill'; node: string }
  | { op: 'restart'; node: string }
  | { op: 'pause'; node: string }
  | { op: 'resume'; node: string }
  | { op: 'partition'; shape: PartitionShape | 'custom'; cuts: CutLink[] }
  | { op: 'heal' }
  | { op: 'latency'; from: string; to: string; latencyMs: number; jitterMs: number }
  | { op: 'clear-latency' }
  | { op: 'clock-skew'; node: string; skewMs: number };

export interface NemesisStep {
  /** Milliseconds after the nemesis starts. */
  atMs: number;
  action: NemesisAction;
}

export interface NemesisSchedule {
  /** The seed it was drawn from; null for a scripted schedule. */
  seed: number | null;
  nodes: string[];
  steps: NemesisStep[];
}

export type FaultKind = 'kill' | 'pause' | 'partition' | 'latency' | 'clock-skew';
export const FAULT_KINDS: readonly FaultKind[] = ['kill', 'pause', 'partition', 'latency', 'clock-skew'];

export interface RandomScheduleOptions {
  seed: number;
  nodes: string[];
  /** Faults start within this window; the last one ends by durationMs. */
  durationMs: number;
  faults?: readonly FaultKind[];
  shapes?: readonly PartitionShape[];
  /** How long each fault lasts, [min, max]. */
  faultMs?: readonly [number, number];
  /** Quiet time between faults, [min, max]. */
  gapMs?: readonly [number, number];
  /** Latency spikes, [min, max] one-way ms. */
  latencyMs?: readonly [number, number];
  /** Clock skew, [min, max] absolute ms (the sign is drawn too). */
  skewMs?: readonly [number, number];
}

export const FAULT_MS_DEFAULT: readonly [number, number] = [500, 2_000];
export const GAP_MS_DEFAULT: readonly [number, number] = [200, 1_000];
export const LATENCY_SPIKE_MS_DEFAULT: readonly [number, number] = [50, 300];
export const CLOCK_SKEW_MS_DEFAULT: readonly [number, number] = [1_000, 60_000];

/**
 * Draws a schedule of faults one after another (each starts, lasts, ends, then a quiet gap), in
 * the Jepsen style of "start fault, sleep, stop fault". The same seed gives the same schedule.
 */
export function randomSchedule(options: RandomScheduleOptions): NemesisSchedule {
  const random = new SeededRandom(options.seed);
  const kinds = options.faults ?? FAULT_KINDS;
  const shapes = options.shapes ?? PARTITION_SHAPES;
  const [faultMin, faultMax] = options.faultMs ?? FAULT_MS_DEFAULT;
  const [gapMin, gapMax] = options.gapMs ?? GAP_MS_DEFAULT;
  const [latencyMin, latencyMax] = options.latencyMs ?? LATENCY_SPIKE_MS_DEFAULT;
  const [skewMin, skewMax] = options.skewMs ?? CLOCK_SKEW_MS_DEFAULT;
  const { nodes } = options;
  if (nodes.length === 0) throw new RangeError('a schedule needs nodes');
  if (kinds.length === 0) throw new RangeError('a schedule needs at least one kind of fault');
  const steps: NemesisStep[] = [];
  // Kinds are drawn from a bag without replacement, refilled when empty: every kind of fault
  // appears once before any appears twice, so a short run still exercises all of them.
  let bag: FaultKind[] = [];
  let t = random.int(gapMin, gapMax);
  while (t + faultMin <= options.durationMs) {
    const holdMs = Math.min(random.int(faultMin, faultMax), options.durationMs - t);
    const end = t + holdMs;
    if (bag.length === 0) bag = random.shuffle([...kinds]);
    const kind = bag.shift()!;
    switch (kind) {
      case 'kill': {
        const node = random.pick(nodes);
        steps.push({ atMs: t, action: { op: 'kill', node } }, { atMs: end, action: { op: 'restart', node } });
        break;
      }
      case 'pause': {
        const node = random.pick(nodes);
        steps.push({ atMs: t, action: { op: 'pause', node } }, { atMs: end, action: { op: 'resume', node } });
        break;
      }
      case 'partition': {
        const shape = random.pick(shapes);
        const cuts = partitionShape(shape, nodes, random);
        steps.push(
          { atMs: t, action: { op: 'partition', shape, cuts } },
          { atMs: end, action: { op: 'heal' } },
        );
        break;
      }
      case 'latency': {
        if (nodes.length < 2) break;
        const from = random.pick(nodes);
        const to = random.pick(nodes.filter((n) => n !== from));
        const latencyMs = random.int(latencyMin, latencyMax);
        steps.push(
          {
            atMs: t,
            action: { op: 'latency', from, to, latencyMs, jitterMs: Math.floor(latencyMs / 10) },
          },
          { atMs: end, action: { op: 'clear-latency' } },
        );
        break;
      }
      case 'clock-skew': {
        const node = random.pick(nodes);
        const skewMs = random.int(skewMin, skewMax) * (random.chance(0.5) ? 1 : -1);
        steps.push(
          { atMs: t, action: { op: 'clock-skew', node, skewMs } },
          { atMs: end, action: { op: 'clock-skew', node, skewMs: 0 } },
        );
        break;
      }
    }
    t = end + random.int(gapMin, gapMax);
  }
  return { seed: options.seed, nodes: [...nodes], steps };
}

/** A hand-written schedule; steps are sorted by time (stable for equal times). */
export function scriptedSchedule(nodes: string[], steps: NemesisStep[]): NemesisSchedule {
  const sorted = steps.map((s, i) => ({ s, i })).sort((a, b) => a.s.atMs - b.s.atMs || a.i - b.i);
  return { seed: null, nodes: [...nodes], steps: sorted.map(({ s }) => s) };
}
