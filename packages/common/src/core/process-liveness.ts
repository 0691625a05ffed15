// Whether a process id names a running process. `kill(pid, 0)` alone is not enough: an exited
// child whose parent is gone lingers as a zombie until reaped, and in containers (or
// sandboxes) without an init that reaps orphans it lingers forever.
import { readFileSync } from 'node:fs';

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // /proc/<pid>/stat is "pid (comm) S ...": the state letter follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc (macOS): kill(0) is the best answer there is
  }
}
