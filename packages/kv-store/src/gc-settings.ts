// The V8 garbage-collector settings a member applies to itself at start (main.ts), each for a
// measured reason, given beside it below (the A/B runs are in bench/HISTORY.md). A setting given
// on the command line (`node --heap-growing-percent=0 dist/main.js ...`, as bench/ab.ts does to
// compare) wins: the member leaves that flag alone.

/** Below this many CPUs a member scavenges its young generation on its own thread. */
export const PARALLEL_SCAVENGE_CPUS_MIN = 4;
/** The old generation may grow to this many percent above what the last full collection kept. */
export const HEAP_GROWING_PERCENT = 300;

/** A V8 flag as `setFlagsFromString` takes it, and the name it goes by on the command line. */
interface GcSetting {
  name: string;
  flag: string;
}

/** The settings for a machine of `cpus` CPUs, in the order they are applied. */
function settings(cpus: number): GcSetting[] {
  const chosen: GcSetting[] = [];
  // V8 scavenges with helper threads by default. Where the members of a cluster (and their
  // clients) already want more CPU than there is, the main thread waits for a helper that is
  // not running: scavenges of 1 MB of survivors took 15-25 ms on the 2-core machine of the
  // README (about 2 ms alone), and the members used 7 % more CPU per write. The flag is read
  // at each scavenge, so setting it at start, before the first requests, takes effect.
  if (cpus < PARALLEL_SCAVENGE_CPUS_MIN)
    chosen.push({ name: 'parallel-scavenge', flag: '--no-parallel-scavenge' });
  // V8's memory reducer runs extra full, compacting collections to hand memory back when it
  // judges the allocation rate low. Under a steady load of writes it ran as many as the
  // ordinary ones (18 of 36 mark-compacts in 12 s across the members, 12-19 ms pauses each);
  // a member that keeps its heap has no use for it. Its flag too is read when a collection is
  // scheduled.
  chosen.push({ name: 'memory-reducer', flag: '--no-memory-reducer' });
  // After each full collection V8 sets the next one's trigger from how fast it judges its
  // collector against the program, aiming to spend about 3 % of the time collecting. Under
  // steady writes a member promotes 3-10 MB/s (the Raft log until it is compacted, cached
  // rows, the tables of long-lived maps), and V8 set the trigger at 1.2-1.5x the live heap: a
  // mark-compact every 0.6-2 s on each member, each holding it 10-30 ms (marking steps plus
  // the final pause, as the concurrent markers get little CPU on a busy machine); 70-86 % of
  // the requests slower than the p99 overlapped one on some member. A fixed factor of 4 makes
  // them several times rarer, for a heap of 100-150 MB instead of 40 under the benchmark.
  // V8 reads it after every full collection; it applies to every isolate of the process (the
  // LSM's table workers too). V8's maximum heap size still bounds the heap.
  chosen.push({ name: 'heap-growing-percent', flag: `--heap-growing-percent=${HEAP_GROWING_PERCENT}` });
  return chosen;
}

/** Whether `execArgv` sets V8 flag `name` itself (`--name`, `--no-name`, `--name=v`; V8 reads
 *  `_` and `-` alike). */
export function givenOnCommandLine(execArgv: readonly string[], name: string): boolean {
  const wanted = name.replaceAll('_', '-');
  return execArgv.some((arg) => {
    const bare = arg.split('=')[0]?.replaceAll('_', '-') ?? '';
    return bare === `--${wanted}` || bare === `--no-${wanted}`;
  });
}

/** The flags a member should set: its settings, less those the command line already sets. */
export function gcFlagsToSet(execArgv: readonly string[], cpus: number): string[] {
  return settings(cpus)
    .filter((s) => !givenOnCommandLine(execArgv, s.name))
    .map((s) => s.flag);
}
