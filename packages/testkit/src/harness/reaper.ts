// Every process the harness spawns is tracked here, so that none outlives the test run: an
// 'exit' handler kills them when the test process exits normally, and a detached watchdog
// (reaper-main) kills them when it dies any other way (SIGKILL, OOM, a crashed worker).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

/** The compiled watchdog; the same relative path from src/harness (vitest) and dist/harness. */
const WATCHDOG_PATH = fileURLToPath(new URL('../../dist/harness/reaper-main.js', import.meta.url));

class ProcessReaper {
  private readonly pids = new Set<number>();
  private watchdog: ChildProcess | null = null;
  private installed = false;

  track(pid: number): void {
    this.install();
    this.pids.add(pid);
    this.watchdog?.stdin?.write(`+${pid}\n`);
  }

  untrack(pid: number): void {
    this.pids.delete(pid);
    if (this.watchdog?.stdin?.writable) this.watchdog.stdin.write(`-${pid}\n`);
  }

  /** The pids spawned and not yet seen to exit. */
  tracked(): number[] {
    return [...this.pids];
  }

  /** Synchronous, so that it works inside an 'exit' handler. */
  killAll(): void {
    for (const pid of this.pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    this.pids.clear();
  }

  private install(): void {
    if (this.installed) return;
    this.installed = true;
    process.on('exit', () => this.killAll());
    if (!existsSync(WATCHDOG_PATH)) {
      process.emitWarning(
        `testkit: ${WATCHDOG_PATH} is missing (build testkit); only the exit handler reaps`,
      );
      return;
    }
    const watchdog = spawn(process.execPath, [WATCHDOG_PATH], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    watchdog.on('error', () => (this.watchdog = null));
    watchdog.stdin?.on('error', () => (this.watchdog = null));
    // Neither the watchdog nor its pipe may keep the test process alive.
    watchdog.unref();
    (watchdog.stdin as unknown as Socket | null)?.unref();
    this.watchdog = watchdog;
  }
}

export const reaper = new ProcessReaper();
