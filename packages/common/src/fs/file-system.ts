// The one door between storage code and the disk. Every durable format in the lab (the Log,
// atomic files, and the formats built on them) reaches files only through a `FileSystem`, so
// that a test can swap in one that forgets what a power cut forgets: testkit's
// `FaultFileSystem` keeps unsynced writes and directory entries in a "page cache" of its own
// and drops them, wholly or in part, at a simulated crash (LevelDB's `Env` and its
// fault_injection_test, RocksDB's FaultInjectionTestFS, Jepsen's LazyFS).
//
// Every call that makes something durable names its sync point (see sync-points.ts): the name
// documents what the call protects, and the fault-injecting file system can skip one named
// point at a time to prove that a crash test notices its absence (the mutation table in the
// README). The real file system ignores the names.

/** The name of one call site that makes data durable, e.g. 'log.segment.dir'. */
export type SyncPoint = string;

export interface FileStat {
  size: number;
  isFile: boolean;
  isDirectory: boolean;
}

export interface OpenOptions {
  /** Open for writing too (default: read only). */
  write?: boolean;
  /** Create the file when missing (O_CREAT). */
  create?: boolean;
  /** Fail with EEXIST when the file exists (O_EXCL, with `create`). */
  exclusive?: boolean;
  /** Cut the file to zero bytes (O_TRUNC). */
  truncate?: boolean;
  /**
   * O_DSYNC: every write returns only once its data (and the size change it needs) is on
   * stable storage, the guarantee of write + fdatasync in one call. The value names the sync
   * point this flag stands for.
   */
  dsync?: SyncPoint;
}

/** An open file. Positions are byte offsets; `null` writes at the current file position. */
export interface FileHandle {
  readonly path: string;
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  readSync(buffer: Uint8Array, offset: number, length: number, position: number): number;
  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  writeSync(buffer: Uint8Array, offset: number, length: number, position: number): number;
  /** fdatasync(2): the file's data and the metadata needed to read it (its size). */
  datasync(point: SyncPoint): Promise<void>;
  datasyncSync(point: SyncPoint): void;
  /** fsync(2): data and all metadata. Neither makes the file's directory entry durable. */
  sync(point: SyncPoint): Promise<void>;
  truncate(length: number): Promise<void>;
  stat(): Promise<FileStat>;
  close(): Promise<void>;
  closeSync(): void;
}

export interface FileSystem {
  open(path: string, options?: OpenOptions): Promise<FileHandle>;
  openSync(path: string, options?: OpenOptions): FileHandle;
  readFile(path: string): Promise<Uint8Array>;
  readFileSync(path: string): Uint8Array;
  /** Atomic replace of `to` (rename(2)); durable only once the directory is fsynced. */
  rename(from: string, to: string): Promise<void>;
  /** Durable only once the directory is fsynced. */
  unlink(path: string): Promise<void>;
  unlinkSync(path: string): void;
  /** Creates the directory (and missing parents with `recursive`); resolves when it exists. */
  mkdir(path: string, options?: { recursive?: boolean }): Promise<void>;
  /** Removes an empty directory; durable only once its parent is fsynced. */
  rmdir(path: string): Promise<void>;
  readdir(path: string): Promise<string[]>;
  stat(path: string): Promise<FileStat>;
  /**
   * Makes the directory's entries durable: files created, renamed into or unlinked from it.
   * A file fsync alone does not (POSIX; ext4 and XFS in practice only sometimes).
   */
  fsyncDir(path: string, point: SyncPoint): Promise<void>;
}

/** The error code of a failed file-system call ('ENOENT', ...), or undefined. */
export function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err
    ? String((err as { code: unknown }).code)
    : undefined;
}
