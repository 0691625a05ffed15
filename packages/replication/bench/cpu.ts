// CPU time of server processes, read from /proc (Linux): what one replicated write costs the
// machine, beside its latency. On a small shared machine a closed loop's latency follows the
// CPU each write needs, so the bench reports both (ms of CPU per operation, all processes of
// the cluster: for PostgreSQL the postmasters and every backend, walsender, walreceiver and
// startup process under them).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

function statFields(pid: number): string[] | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces: split after it.
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** utime + stime of the processes, in ms (0 for one that is gone, or off Linux). */
export function cpuMs(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const fields = statFields(pid);
    // Fields 14 and 15 of /proc/PID/stat; after the name, indices 11 and 12.
    if (fields) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return (ticks * 1000) / TICKS_PER_SECOND;
}

/** The postmasters of these data directories and every process whose parent is one of them. */
export function postgresPids(dataDirs: readonly string[]): number[] {
  const masters = new Set<number>();
  for (const dir of dataDirs) {
    try {
      const pid = Number(readFileSync(join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (pid > 0) masters.add(pid);
    } catch {
      // not running
    }
  }
  const pids = [...masters];
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return pids;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const parent = Number(statFields(Number(entry))?.[1]);
    if (masters.has(parent)) pids.push(Number(entry));
  }
  return pids;
}

/** A line `Name:   1234 kB` of a /proc file, in KiB (0 when absent or unreadable). */
function procKiB(path: string, field: string): number {
  try {
    const text = readFileSync(path, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

export interface Memory {
  /** Sum of the processes' resident set sizes (VmRSS): pages shared between them count once per process. */
  rssMiB: number;
  /** Sum of their proportional set sizes (Pss, smaps_rollup): shared pages split among the sharers; null when unreadable. */
  pssMiB: number | null;
}

/** The memory the processes hold now (Linux /proc; zeros elsewhere). */
export function memory(pids: readonly number[]): Memory {
  let rss = 0;
  let pss = 0;
  let pssReadable = pids.length > 0;
  for (const pid of pids) {
    rss += procKiB(`/proc/${pid}/status`, 'VmRSS');
    const p = procKiB(`/proc/${pid}/smaps_rollup`, 'Pss');
    if (p === 0) pssReadable = false;
    pss += p;
  }
  const mib = (kib: number) => Math.round((kib / 1024) * 10) / 10;
  return { rssMiB: mib(rss), pssMiB: pssReadable ? mib(pss) : null };
}
