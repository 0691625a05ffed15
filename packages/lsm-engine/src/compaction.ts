// Choosing what to compact (book ch. 3 "Performance optimizations": size-tiered and leveled
// compaction). Pure functions of a Version: no I/O here; the engine runs the plan.
//
// Leveled (LevelDB, doc/impl.md "Compactions"): level 0 is compacted into level 1 once it
// holds `l0CompactionTrigger` tables; level L >= 1 once its bytes exceed
// levelBaseBytes * levelMultiplier^(L-1), one table at a time, round-robin over the key
// space, merged with the tables of level L+1 it overlaps. Reads touch one table per level;
// every byte is rewritten about `levelMultiplier` times per level it descends.
//
// Size-tiered (Cassandra's STCS, the Bigtable paper's "merging compaction"): every table is
// a sorted run in level 0; once `tieredMinRuns` runs of similar size sit next to each other
// in age, they are merged into one bigger run. Fewer rewrites (lower write amplification),
// but more runs to read and up to twice the space while a big merge runs.
import { LEVELS, type TableMeta, type Version } from './version.js';

export type CompactionStyle = 'leveled' | 'tiered';

export interface CompactionPolicy {
  style: CompactionStyle;
  l0CompactionTrigger: number;
  levelBaseBytes: number;
  levelMultiplier: number;
  tieredMinRuns: number;
  /** Runs in a size bucket differ by at most this factor from the bucket's average. */
  tieredSizeRatio: number;
}

export interface CompactionPlan {
  /** Input tables with the level each lives in. */
  inputs: { level: number; table: TableMeta }[];
  outputLevel: number;
  /** Move the single input down a level without rewriting it (no overlap below). */
  trivialMove: boolean;
  /** Split outputs at targetFileBytes (leveled); tiered outputs are one run. */
  splitOutputs: boolean;
  /** Tables not in the inputs that hold older data for keys in range (tombstones must stay). */
  olderTables: TableMeta[];
  reason: string;
}

/** How much over its budget each level is; the engine compacts the worst once it is >= 1. */
export function levelScores(version: Version, policy: CompactionPolicy): number[] {
  const scores: number[] = [version.levels[0]!.length / policy.l0CompactionTrigger];
  let budget = policy.levelBaseBytes;
  for (let level = 1; level < LEVELS - 1; level++) {
    scores.push(version.levelBytes(level) / budget);
    budget *= policy.levelMultiplier;
  }
  return scores;
}

export function pickCompaction(
  version: Version,
  policy: CompactionPolicy,
  compactPointers: Map<number, Buffer>,
): CompactionPlan | null {
  return policy.style === 'leveled'
    ? pickLeveled(version, policy, compactPointers)
    : pickTiered(version, policy);
}

function pickLeveled(
  version: Version,
  policy: CompactionPolicy,
  pointers: Map<number, Buffer>,
): CompactionPlan | null {
  const scores = levelScores(version, policy);
  let level = -1;
  let best = 1;
  for (let l = 0; l < scores.length; l++) {
    if (scores[l]! >= best) {
      best = scores[l]!;
      level = l;
    }
  }
  if (level < 0) return null;
  let upper: TableMeta[];
  if (level === 0) {
    upper = [...version.levels[0]!];
  } else {
    // Round-robin: the first table after where the last compaction of this level ended.
    const tables = version.levels[level]!;
    const pointer = pointers.get(level);
    upper = [
      tables.find((t) => pointer === undefined || Buffer.compare(t.smallest, pointer) > 0) ?? tables[0]!,
    ];
  }
  const [smallest, largest] = range(upper);
  const lower = version.overlapping(level + 1, smallest, largest);
  const inputs = [
    ...upper.map((table) => ({ level, table })),
    ...lower.map((table) => ({ level: level + 1, table })),
  ];
  const older: TableMeta[] = [];
  for (let l = level + 2; l < LEVELS; l++) older.push(...version.overlapping(l, smallest, largest));
  return {
    inputs,
    outputLevel: level + 1,
    trivialMove: upper.length === 1 && lower.length === 0,
    splitOutputs: true,
    olderTables: older,
    reason: `level ${level} score ${best.toFixed(2)}`,
  };
}

function pickTiered(version: Version, policy: CompactionPolicy): CompactionPlan | null {
  const runs = version.levels[0]!; // newest first
  let window: TableMeta[] = [];
  let windowBytes = 0;
  let chosen: TableMeta[] | null = null;
  for (const run of runs) {
    const average = window.length > 0 ? windowBytes / window.length : run.bytes;
    const similar =
      run.bytes <= average * policy.tieredSizeRatio && run.bytes * policy.tieredSizeRatio >= average;
    if (window.length > 0 && !similar) {
      if (window.length >= policy.tieredMinRuns) break;
      window = [];
      windowBytes = 0;
    }
    window.push(run);
    windowBytes += run.bytes;
  }
  if (window.length >= policy.tieredMinRuns) chosen = window;
  if (chosen === null) return null;
  const oldestInput = chosen[chosen.length - 1]!;
  const older = runs.slice(runs.indexOf(oldestInput) + 1);
  const [smallest, largest] = range(chosen);
  return {
    inputs: chosen.map((table) => ({ level: 0, table })),
    outputLevel: 0,
    trivialMove: false,
    splitOutputs: false,
    olderTables: older.filter(
      (t) => Buffer.compare(t.largest, smallest) >= 0 && Buffer.compare(t.smallest, largest) <= 0,
    ),
    reason: `${chosen.length} runs of similar size`,
  };
}

/** A major compaction: every table into one sorted run at the bottom (POST /admin/compact). */
export function planMajor(version: Version, policy: CompactionPolicy): CompactionPlan | null {
  const inputs: { level: number; table: TableMeta }[] = [];
  let deepest = 0;
  for (let level = 0; level < LEVELS; level++) {
    for (const table of version.levels[level]!) {
      inputs.push({ level, table });
      deepest = level;
    }
  }
  if (inputs.length === 0) return null;
  const outputLevel = policy.style === 'tiered' ? 0 : Math.max(1, deepest);
  return {
    inputs,
    outputLevel,
    trivialMove: false,
    splitOutputs: policy.style === 'leveled',
    olderTables: [],
    reason: 'manual major compaction',
  };
}

function range(tables: TableMeta[]): [Buffer, Buffer] {
  let smallest = tables[0]!.smallest;
  let largest = tables[0]!.largest;
  for (const t of tables) {
    if (Buffer.compare(t.smallest, smallest) < 0) smallest = t.smallest;
    if (Buffer.compare(t.largest, largest) > 0) largest = t.largest;
  }
  return [smallest, largest];
}
