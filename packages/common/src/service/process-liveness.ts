// Whether a process id names a running process. `kill(pid, 0)` alone is not enough: an exited
// child whose parent is gone lingers as a zombie until reaped, and in containers (or
// sandboxes) without an init that reaps orphans it lingers forever.
import { readFileSync } from 'node:fs';

export type ProcessState = 'running' | 'paused' | 'gone';

/** 'paused' is SIGSTOPped (state T); a zombie counts as gone. */
export function processState(pid: number): ProcessState {
  try {
    process.kill(pid, 0);
  } catch {
    return 'gone';
  }
  let letter: string;
  try {
    // /proc/<pid>/stat is "pid (comm) S ...": the state letter follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    letter = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return 'running'; // no /proc (macOS): kill(0) is the best answer there is
  }
  if (letter === 'Z' || letter === 'X') return 'gone';
  return letter === 'T' ? 'paused' : 'running';
}

export function isProcessAlive(pid: number): boolean {
  return processState(pid) !== 'gone';
}
