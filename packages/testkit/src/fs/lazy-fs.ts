// Mounting our LazyFS-like FUSE file system (../../tools/lazyfs/lazyfs.c) for crash tests that
// run real processes on real system calls: the writer's bytes go through the kernel to a file
// system that keeps them in its own memory until fsync, and `drop()` loses whatever was not
// synced, as a power cut would. Unlike FaultFileSystem (an in-process model behind common's
// FileSystem interface), this checks the real code path: the flags the program opens files with
// (O_DSYNC), the syscalls it really makes, in the order it makes them.
//
// Needs Linux, /dev/fuse, a C compiler and libfuse3's headers (Debian: fuse3 libfuse3-dev
// pkg-config), and the right to mount (root, or fusermount3 setuid). `lazyFsSupport()` says
// whether all of that is here, and why not, so that tests can skip with the reason.
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, realpath, rename, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pollUntil } from '@ddia/common';

const SOURCE = fileURLToPath(new URL('../../tools/lazyfs/lazyfs.c', import.meta.url));
const MOUNT_TIMEOUT_MS = 15_000;
const UNMOUNT_TIMEOUT_MS = 15_000;

export interface LazyFsStats {
  writes: number;
  fsyncs: number;
  dirSyncs: number;
  drops: number;
  /** Files changed since their last fsync (or never synced), and their unsynced bytes. */
  dirtyFiles: number;
  dirtyBytes: number;
  /** Directories whose entries changed since their last fsync. */
  dirtyDirs: number;
}

export interface LazyFsDropReport {
  droppedFiles: number;
  droppedBytes: number;
  revertedDirs: number;
}

export type LazyFsSupport = { available: true; binary: string } | { available: false; reason: string };

function run(command: string, args: string[]): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ ok: !err, stdout: String(stdout), stderr: String(stderr || (err ? err.message : '')) }),
    );
  });
}

function onPath(tool: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => dir && existsSync(join(dir, tool)));
}

/** Compiles lazyfs.c once per source version into a cache directory; returns the binary's path. */
async function build(): Promise<{ binary: string } | { reason: string }> {
  if (!onPath('cc')) return { reason: 'no C compiler (cc) on PATH (Debian: apt-get install gcc)' };
  const flags = await run('pkg-config', ['--cflags', '--libs', 'fuse3']);
  if (!flags.ok)
    return {
      reason: 'libfuse3 headers not found by pkg-config (Debian: apt-get install libfuse3-dev pkg-config)',
    };
  const source = readFileSync(SOURCE);
  const hash = createHash('sha256').update(source).update(flags.stdout).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), `ddia-lazyfs-${hash}`);
  const binary = join(dir, 'lazyfs');
  if (existsSync(binary)) return { binary };
  await mkdir(dir, { recursive: true });
  // Compile to a private name, then rename: test files building at once never see half a binary.
  const partial = `${binary}.${process.pid}.${Date.now()}`;
  const compiled = await run('cc', [
    '-O2',
    '-Wall',
    SOURCE,
    ...flags.stdout.trim().split(/\s+/),
    '-o',
    partial,
  ]);
  if (!compiled.ok) return { reason: `compiling lazyfs.c failed: ${compiled.stderr.trim().slice(0, 500)}` };
  await rename(partial, binary);
  return { binary };
}

let support: Promise<LazyFsSupport> | null = null;

/**
 * Whether LazyFS can run here: Linux, /dev/fuse, a compiler and libfuse3, and a probe mount that
 * succeeds (a container without CAP_SYS_ADMIN has /dev/fuse but may not mount). Cached.
 */
export function lazyFsSupport(): Promise<LazyFsSupport> {
  support ??= (async (): Promise<LazyFsSupport> => {
    if (process.platform !== 'linux')
      return { available: false, reason: `FUSE tests need Linux, not ${process.platform}` };
    if (!existsSync('/dev/fuse')) return { available: false, reason: '/dev/fuse is absent' };
    if (!onPath('fusermount3') && !onPath('umount'))
      return {
        available: false,
        reason: 'neither fusermount3 nor umount on PATH (Debian: apt-get install fuse3)',
      };
    const built = await build();
    if ('reason' in built) return { available: false, reason: built.reason };
    try {
      const probe = await mountLazyFs({ binary: built.binary });
      await probe.close();
    } catch (err) {
      return { available: false, reason: `cannot mount FUSE here: ${(err as Error).message}` };
    }
    return { available: true, binary: built.binary };
  })();
  return support;
}

export interface MountLazyFsOptions {
  /** The backing directory: the "disk" (default: a new empty directory). */
  backing?: string;
  /** Where to mount (default: a new directory). */
  mountpoint?: string;
  /** The compiled binary (default: built by lazyFsSupport()). */
  binary?: string;
}

const live = new Set<LazyFs>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test that dies without unmounting must not leave a dead mount behind.
  process.on('exit', () => {
    for (const fs of live) fs.forceUnmountSync();
  });
}

function isMounted(mountpoint: string): boolean {
  const info = readFileSync('/proc/self/mountinfo', 'utf8');
  return info.split('\n').some((line) => {
    const fields = line.split(' ');
    return fields[4] === mountpoint && line.includes(' - fuse.lazyfs ');
  });
}

function request(socketPath: string, command: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ path: socketPath });
    let data = '';
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${command}\n`));
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      try {
        const reply = JSON.parse(data) as Record<string, unknown>;
        if (reply.ok !== true) reject(new Error(`lazyfs ${command}: ${data.trim()}`));
        else resolve(reply);
      } catch {
        reject(new Error(`lazyfs ${command}: bad reply ${JSON.stringify(data)}`));
      }
    });
  });
}

/** A mounted LazyFS. `dir` is where processes read and write; `backing` holds what was synced. */
export class LazyFs {
  private exited: Promise<number | null>;
  private stderr = '';

  private constructor(
    readonly dir: string,
    readonly backing: string,
    private readonly control: string,
    private readonly controlDir: string,
    private readonly binary: string,
    private readonly ownedRoot: string | null,
    private readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
  }

  static async mount(
    binary: string,
    backing: string,
    mountpoint: string,
    ownedRoot: string | null,
  ): Promise<LazyFs> {
    // The control socket lives in a directory of its own (a Unix socket path must stay short).
    const controlDir = await mkdtemp(join(tmpdir(), 'ddia-lazyfs-ctl-'));
    const control = join(controlDir, 'control.sock');
    const child = spawn(
      binary,
      ['--die-with-parent', '--backing', backing, '--control', control, mountpoint],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    const fs = new LazyFs(mountpoint, backing, control, controlDir, binary, ownedRoot, child);
    let exitCode: number | null | undefined;
    fs.exited.then((code) => (exitCode = code));
    try {
      await pollUntil(
        async () => {
          if (exitCode !== undefined) throw new Error(`lazyfs exited with ${exitCode}: ${fs.stderr.trim()}`);
          if (!isMounted(mountpoint)) return false;
          return request(control, 'ping').then(
            () => true,
            () => false,
          );
        },
        { timeoutMs: MOUNT_TIMEOUT_MS, intervalMs: 20, what: `lazyfs to mount ${mountpoint}` },
      );
    } catch (err) {
      child.kill('SIGKILL');
      if (isMounted(mountpoint)) spawnSync('umount', ['-l', mountpoint]);
      await rm(controlDir, { recursive: true, force: true });
      throw err;
    }
    live.add(fs);
    installExitHook();
    return fs;
  }

  /** Power cut: every write, create, rename and unlink not yet made durable by a sync is lost. */
  async drop(): Promise<LazyFsDropReport> {
    return (await request(this.control, 'drop')) as unknown as LazyFsDropReport;
  }

  async stats(): Promise<LazyFsStats> {
    return (await request(this.control, 'stats')) as unknown as LazyFsStats;
  }

  /** Unmounts (which loses unsynced state too: only synced state ever reaches `backing`). */
  async unmount(): Promise<void> {
    if (!live.has(this)) return;
    live.delete(this);
    const tool = onPath('fusermount3') ? 'fusermount3' : 'umount';
    const args = tool === 'fusermount3' ? ['-u', this.dir] : [this.dir];
    try {
      await pollUntil(
        async () => {
          if (!isMounted(this.dir)) return true;
          // EBUSY while a killed writer's files are still being released: try again.
          await run(tool, args);
          return !isMounted(this.dir);
        },
        { timeoutMs: UNMOUNT_TIMEOUT_MS, intervalMs: 50, what: `${this.dir} to unmount` },
      );
    } catch (err) {
      this.forceUnmountSync();
      throw err;
    }
    await Promise.race([this.exited, new Promise((resolve) => setTimeout(resolve, UNMOUNT_TIMEOUT_MS))]);
    this.child.kill('SIGKILL');
    await rm(this.controlDir, { recursive: true, force: true });
  }

  /** Unmounts and mounts the same backing directory again: a reboot after the power cut. */
  async remount(): Promise<LazyFs> {
    await this.unmount();
    return LazyFs.mount(this.binary, this.backing, this.dir, this.ownedRoot);
  }

  /** Unmounts and, if mountLazyFs made the directories, removes them. */
  async close(): Promise<void> {
    await this.unmount();
    if (this.ownedRoot) await rm(this.ownedRoot, { recursive: true, force: true });
  }

  /** The stderr of the file system process (errors it printed). */
  get log(): string {
    return this.stderr;
  }

  /** Last resort at process exit: lazy unmount and kill, synchronously. */
  forceUnmountSync(): void {
    live.delete(this);
    this.child.kill('SIGKILL');
    if (isMounted(this.dir)) spawnSync('umount', ['-l', this.dir]);
  }
}

/** Mounts LazyFS on a fresh directory (or the given ones). Throws if it cannot mount. */
export async function mountLazyFs(options: MountLazyFsOptions = {}): Promise<LazyFs> {
  let binary = options.binary;
  if (!binary) {
    const s = await lazyFsSupport();
    if (!s.available) throw new Error(`LazyFS unavailable: ${s.reason}`);
    binary = s.binary;
  }
  const ownedRoot =
    options.backing && options.mountpoint ? null : await mkdtemp(join(tmpdir(), 'ddia-lazyfs-mnt-'));
  const backing = options.backing ?? join(ownedRoot!, 'backing');
  const mountpoint = options.mountpoint ?? join(ownedRoot!, 'mnt');
  await mkdir(backing, { recursive: true });
  await mkdir(mountpoint, { recursive: true });
  // /proc/self/mountinfo names the mount point by its real path.
  return LazyFs.mount(binary, await realpath(backing), await realpath(mountpoint), ownedRoot);
}
