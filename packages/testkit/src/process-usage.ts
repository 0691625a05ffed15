// What server processes cost the machine, read from Linux's /proc: their CPU time and their
// memory, for benchmarks that report both beside throughput (a peer that is faster by using
// twice the CPU or memory is a different trade, not a better system).
import { readFileSync } from 'node:fs';

/** Linux reports process times in clock ticks of 1/100 s (USER_HZ) on every common platform. */
const CLOCK_TICK_MS = 10;
const KIB_PER_MIB = 1024;

/** CPU time (user + system, ms) these processes have used so far; null when one cannot be
 *  read (gone, or no /proc). */
export function processCpuMs(pids: readonly number[]): number | null {
  try {
    let ticks = 0;
    for (const pid of pids) {
      const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // The command name is in parentheses and may hold spaces: the fields after it, where
      // utime and stime (the 14th and 15th of the line) are the 12th and 13th.
      const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    }
    return ticks * CLOCK_TICK_MS;
  } catch {
    return null;
  }
}

export interface ProcessMemory {
  /** Resident set of all the processes together, MiB (shared pages count once per process). */
  rssMiB: number;
  /** Proportional set size: shared pages divided among the processes that map them, MiB. */
  pssMiB: number;
}

/** Memory these processes hold now, from /proc/<pid>/smaps_rollup; null when one cannot be
 *  read. */
export function processMemory(pids: readonly number[]): ProcessMemory | null {
  try {
    let rssKiB = 0;
    let pssKiB = 0;
    for (const pid of pids) {
      const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      rssKiB += Number(/^Rss:\s+(\d+) kB/m.exec(text)?.[1] ?? Number.NaN);
      pssKiB += Number(/^Pss:\s+(\d+) kB/m.exec(text)?.[1] ?? Number.NaN);
    }
    if (!Number.isFinite(rssKiB) || !Number.isFinite(pssKiB)) return null;
    return { rssMiB: rssKiB / KIB_PER_MIB, pssMiB: pssKiB / KIB_PER_MIB };
  } catch {
    return null;
  }
}
