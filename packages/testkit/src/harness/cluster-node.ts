// One node of a test cluster: a real OS process with its own port, data dir and log file, which
// tests can kill (SIGKILL: a crash, nothing flushed), stop (SIGTERM: a clean shutdown), pause
// (SIGSTOP: a long GC pause or a stalled VM, the process is alive but silent) and restart on
// the same port and data dir (recovery from what reached the disk).
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { HttpClient, type Peer } from '@ddia/common';
import { reaper } from './reaper.js';

export const READY_TIMEOUT_MS_DEFAULT = 20_000;
export const READY_POLL_MS = 50;
/** One readiness probe gives up after this long; the next one follows. */
const PROBE_DEADLINE_MS = 1_000;
/** How long stop() waits after SIGTERM before it sends SIGKILL. */
export const STOP_GRACE_MS_DEFAULT = 5_000;
export const LOG_TAIL_LINES_DEFAULT = 40;
const LOG_TAIL_BYTES_MAX = 64 * 1024;

export interface NodeSpec {
  id: string;
  host: string;
  /** The node's own port (the process binds it; clients may go through a proxy instead). */
  port: number;
  dataDir: string;
  /** http://host:port, the node's real address. */
  directUrl: string;
  /** The peers as this node must see them: its own real URL, the others' (proxied) URLs. */
  peers: Peer[];
  /** The standard flags: --id, --port, --peers, --data-dir (the @ddia/common config style). */
  flags: string[];
}

export interface NodeCommand {
  /** Arguments to `executable`, e.g. [mainJs, ...node.flags]. */
  args: string[];
  env?: Record<string, string>;
  /** Defaults to this Node.js binary. */
  executable?: string;
  cwd?: string;
}

export type NodeState = 'running' | 'paused' | 'stopped';

export class NodeStartError extends Error {
  override name = 'NodeStartError';
}

export interface ClusterNodeOptions {
  spec: NodeSpec;
  command: NodeCommand;
  logFile: string;
  /** Where clients reach this node (its client proxy when the cluster is proxied). */
  clientUrl: string;
  readyPath: string;
  readyTimeoutMs: number;
}

export class ClusterNode {
  readonly id: string;
  readonly port: number;
  readonly dataDir: string;
  readonly directUrl: string;
  /** Client-facing URL: through the client -> node proxy when proxied, else the direct URL. */
  readonly url: string;
  readonly logFile: string;
  readonly spec: NodeSpec;
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private log: WriteStream | null = null;
  private paused = false;
  private lastExit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private starts = 0;

  constructor(private readonly options: ClusterNodeOptions) {
    this.spec = options.spec;
    this.id = options.spec.id;
    this.port = options.spec.port;
    this.dataDir = options.spec.dataDir;
    this.directUrl = options.spec.directUrl;
    this.url = options.clientUrl;
    this.logFile = options.logFile;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get state(): NodeState {
    if (!this.child) return 'stopped';
    return this.paused ? 'paused' : 'running';
  }

  /** How the last run ended, e.g. { code: null, signal: 'SIGKILL' }. */
  get exitStatus() {
    return this.lastExit;
  }

  /** Starts the process and waits for `GET readyPath` to answer 200. */
  async start(): Promise<void> {
    if (this.child) throw new NodeStartError(`${this.id} is already running (pid ${this.child.pid})`);
    const { command } = this.options;
    this.log ??= createWriteStream(this.logFile, { flags: 'a' });
    this.starts++;
    this.log.write(`--- ${new Date().toISOString()} start #${this.starts} of ${this.id} ---\n`);
    const child = spawn(command.executable ?? process.execPath, command.args, {
      cwd: command.cwd,
      env: { ...process.env, ...command.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid === undefined) {
      const error = await new Promise<Error>((resolve) => child.once('error', resolve));
      throw new NodeStartError(`${this.id}: could not spawn: ${error.message}`);
    }
    reaper.track(child.pid);
    this.child = child;
    this.paused = false;
    this.lastExit = null;
    const log = this.log;
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        reaper.untrack(child.pid!);
        this.lastExit = { code, signal };
        log.write(`--- ${this.id} exited code=${code} signal=${signal} ---\n`);
        if (this.child === child) {
          this.child = null;
          this.paused = false;
        }
        resolve();
      });
    });
    await this.waitReady();
  }

  async waitReady(timeoutMs = this.options.readyTimeoutMs): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    const url = `${this.directUrl}${this.options.readyPath}`;
    // Its own client, closed at the end: no keep-alive socket outlives the wait.
    const http = new HttpClient({ deadlineMs: PROBE_DEADLINE_MS, retries: 0 });
    try {
      for (;;) {
        if (!this.child) {
          throw new NodeStartError(
            `${this.id} exited before it was ready (${JSON.stringify(this.lastExit)})\n${await this.logTail()}`,
          );
        }
        // No answer yet (refused, reset, timed out) counts as not ready.
        const status = await http.request(url, { retry: false }).then(
          (res) => res.status,
          () => 0,
        );
        if (status === 200) return;
        if (performance.now() > deadline) {
          throw new NodeStartError(
            `${this.id} not ready at ${url} after ${timeoutMs} ms\n${await this.logTail()}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
      }
    } finally {
      await http.close();
    }
  }

  /** SIGKILL: the process dies at once, with nothing flushed. Resolves once it is gone. */
  async kill(): Promise<void> {
    await this.signalAndWait('SIGKILL');
  }

  /** SIGTERM and wait; SIGKILL if it is not gone within graceMs. */
  async stop(graceMs = STOP_GRACE_MS_DEFAULT): Promise<void> {
    const child = this.child;
    if (!child) return;
    if (this.paused) this.resume();
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** SIGSTOP: alive but silent; connections stay open and requests hang. */
  pause(): void {
    if (!this.child) throw new NodeStartError(`${this.id} is not running`);
    this.child.kill('SIGSTOP');
    this.paused = true;
  }

  resume(): void {
    if (!this.child) return;
    this.child.kill('SIGCONT');
    this.paused = false;
  }

  /** Starts again on the same port and data dir; a running node is stopped (SIGTERM) first. */
  async restart(): Promise<void> {
    if (this.child) await this.stop();
    await this.start();
  }

  /** The last lines of this node's log, for failure reports. */
  async logTail(lines = LOG_TAIL_LINES_DEFAULT): Promise<string> {
    let text = '';
    try {
      const size = (await stat(this.logFile)).size;
      const handle = await open(this.logFile, 'r');
      try {
        const length = Math.min(size, LOG_TAIL_BYTES_MAX);
        const buffer = Buffer.alloc(length);
        await handle.read(buffer, 0, length, size - length);
        text = buffer.toString('utf8');
      } finally {
        await handle.close();
      }
    } catch {
      return `(no log at ${this.logFile})`;
    }
    const tail = text
      .split('\n')
      .slice(-lines - 1)
      .join('\n');
    return `=== ${this.id} (${this.logFile}) last ${lines} lines ===\n${tail}`;
  }

  /** Kills the process (if any) and closes the log. */
  async dispose(): Promise<void> {
    await this.signalAndWait('SIGKILL');
    await new Promise<void>((resolve) => (this.log ? this.log.end(resolve) : resolve()));
    this.log = null;
  }

  private async signalAndWait(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill(signal);
    await this.exited;
  }
}
