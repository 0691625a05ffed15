// The child process of a crash test: a writer that prints `ready` once its store is open, then
// one line per acknowledged write (only after the write resolved), until it is SIGKILLed at a
// chosen moment. The crash tests of common's Log and of the LSM engine (plain SIGKILL and on
// LazyFS) all run their writers through this, then reopen the store and check that every
// acknowledged line is there. The child is tracked by the harness's reaper, so a test process
// that dies mid-run leaves no writer behind.
import { spawn } from 'node:child_process';
import { reaper } from '../harness/reaper.js';

export interface CrashChildOptions {
  /** The writer script, run with this Node.js. */
  script: string;
  args: string[];
  /** How long the writer runs after it printed `ready` (start-up time varies with load). */
  killAfterMs: number;
  /** Where the writer's stderr goes: kept for the error message (default) or inherited. */
  stderr?: 'pipe' | 'inherit';
}

export interface CrashChildRun {
  /** The lines the writer printed after `ready`, in order: its acknowledgements. */
  acknowledged: string[];
}

/**
 * Runs the writer until `killAfterMs` after it is ready, SIGKILLs it, and returns what it
 * acknowledged. A writer that exits by itself (a crash of its own, a failed check) fails the
 * run with its exit code and stderr: that is a bug, not a crash test.
 */
export async function runCrashChild(options: CrashChildOptions): Promise<CrashChildRun> {
  const child = spawn(process.execPath, [options.script, ...options.args], {
    stdio: ['ignore', 'pipe', options.stderr ?? 'pipe'],
  });
  const pid = child.pid;
  if (pid !== undefined) reaper.track(pid);
  const acknowledged: string[] = [];
  let ready: () => void = () => {};
  const opened = new Promise<void>((resolve) => (ready = resolve));
  let isReady = false;
  let buffered = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      if (!isReady && line === 'ready') {
        isReady = true;
        ready();
      } else if (isReady) acknowledged.push(line);
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    await Promise.race([opened, exited]);
    if (isReady) await new Promise((resolve) => setTimeout(resolve, options.killAfterMs));
    child.kill('SIGKILL');
    const code = await exited;
    if (code !== null) throw new Error(`writer exited by itself with ${code}: ${stderr}`);
    return { acknowledged };
  } finally {
    if (pid !== undefined) reaper.untrack(pid);
  }
}
