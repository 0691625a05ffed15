// Durable Raft state on real files (byte layout in ../../FORMAT.md):
//   log/            common's segmented Log: one record per entry, record i = Raft index i
//   hardstate.json  term, vote, commit; replaced atomically (writeFileAtomic)
//   snapshot.bin    the latest snapshot: magic, CRC32C, metadata JSON, application bytes
// Term and vote are written before `save` resolves whenever they change (Figure 2: they must be
// on stable storage before the node answers). The commit index is not needed for safety, so it
// rides along with those writes, with snapshots and on close, instead of costing an fsync per
// commit; after a crash the node relearns it from the leader.
import { join } from 'node:path';
import {
  crc32c,
  errorCode,
  type FileSystem,
  type FsyncPolicy,
  Log,
  nodeFileSystem,
  pooledBytes,
  readVarint,
  varintLength,
  writeFileAtomic,
  writeVarint,
} from '@ddia/common';
import type { RaftInitialState } from '../core/raft.js';
import {
  ENTRY_TYPE_CODE,
  ENTRY_TYPES,
  type Entry,
  type HardState,
  type Snapshot,
  type SnapshotMeta,
} from '../core/types.js';
import type { RaftStorage, StorageUpdate } from './storage.js';

const SNAPSHOT_MAGIC = 0x524e5350; // 'RNSP'
const SNAPSHOT_VERSION = 1;
const SNAPSHOT_HEADER_BYTES = 4 + 1 + 4 + 4;

/** A damaged snapshot or hard-state file: the node refuses to start rather than guess. */
export class CorruptRaftStateError extends Error {
  override name = 'CorruptRaftStateError';
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`corrupt Raft state in ${file}: ${reason}`);
  }
}

export interface FileStorageOptions {
  dir: string;
  fsync?: FsyncPolicy;
  segmentBytesMax?: number;
  /** How the log writes (common's LogOptions.io). Default 'pool': a Ready's entries are
   *  written and synced on libuv's thread pool, so the event loop goes on serving requests and
   *  stepping peers' acknowledgements meanwhile (two followers' acks commit an entry without
   *  waiting for the leader's own sync). 'inline' writes on the event loop thread, which skips
   *  two thread hand-offs per Ready but stops the node for the whole sync: cheaper where a sync
   *  takes well under a millisecond, worse where it takes two, as on the disks the kv-store
   *  benchmark runs on (its A/B is in kv-store/bench/HISTORY.md). */
  io?: 'pool' | 'inline';
  /** Zero-filled room kept ahead of the log's end (common's LogOptions.preallocateBytes).
   *  Default PREALLOCATE_BYTES_DEFAULT; 0 turns it off. */
  preallocateBytes?: number;
  /** The file system to keep the state on (default: the real one; crash tests pass a faulty one). */
  fs?: FileSystem;
}

/** Sync point prefixes of the two atomically replaced files (common's writeFileAtomic). */
export const RAFT_SYNC = { hardState: 'raft.hardstate', snapshot: 'raft.snapshot' } as const;

/** Measured with two kv-store clusters taking turns on this 2-core VM (kv-store README, "What a
 *  write costs"): appends that overwrite preallocated zeros sync faster than appends that grow
 *  the file, most of all when three members share one disk. */
export const PREALLOCATE_BYTES_DEFAULT = 4 * 1024 * 1024;

export function encodeEntryRecord(e: Entry): Uint8Array {
  // Every byte is written below; pooled: it is gone once the append has copied it.
  const out = pooledBytes(1 + varintLength(e.term) + e.data.length);
  out[0] = ENTRY_TYPE_CODE.get(e.type) as number;
  const at = writeVarint(out, 1, e.term);
  out.set(e.data, at);
  return out;
}

export function decodeEntryRecord(index: number, record: Uint8Array): Entry {
  const type = ENTRY_TYPES[record[0]];
  if (type === undefined)
    throw new CorruptRaftStateError('log', `entry ${index} has unknown type ${record[0]}`);
  const { value: term, next } = readVarint(record, 1);
  return { index, term, type, data: record.slice(next) };
}

export function encodeSnapshotFile(snapshot: Snapshot): Uint8Array {
  const meta = new TextEncoder().encode(JSON.stringify(snapshot.meta));
  const out = new Uint8Array(SNAPSHOT_HEADER_BYTES + meta.length + snapshot.data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, SNAPSHOT_MAGIC);
  out[4] = SNAPSHOT_VERSION;
  view.setUint32(9, meta.length);
  out.set(meta, SNAPSHOT_HEADER_BYTES);
  out.set(snapshot.data, SNAPSHOT_HEADER_BYTES + meta.length);
  view.setUint32(5, crc32c(out.subarray(9)));
  return out;
}

export function decodeSnapshotFile(file: string, bytes: Uint8Array): Snapshot {
  if (bytes.length < SNAPSHOT_HEADER_BYTES) throw new CorruptRaftStateError(file, 'shorter than its header');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0) !== SNAPSHOT_MAGIC) throw new CorruptRaftStateError(file, 'bad magic');
  if (bytes[4] !== SNAPSHOT_VERSION) throw new CorruptRaftStateError(file, `unknown version ${bytes[4]}`);
  if (view.getUint32(5) !== crc32c(bytes.subarray(9)))
    throw new CorruptRaftStateError(file, 'checksum mismatch');
  const metaLength = view.getUint32(9);
  if (SNAPSHOT_HEADER_BYTES + metaLength > bytes.length)
    throw new CorruptRaftStateError(file, 'metadata overruns');
  const meta = JSON.parse(
    new TextDecoder().decode(bytes.subarray(SNAPSHOT_HEADER_BYTES, SNAPSHOT_HEADER_BYTES + metaLength)),
  ) as SnapshotMeta;
  return { meta, data: bytes.slice(SNAPSHOT_HEADER_BYTES + metaLength) };
}

async function readIfExists(fs: FileSystem, path: string): Promise<Uint8Array | null> {
  try {
    return new Uint8Array(await fs.readFile(path));
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return null;
    throw err;
  }
}

export class FileStorage implements RaftStorage {
  private hardState: HardState = { term: 0, vote: null, commit: 0 };
  private hardStateOnDisk: HardState | null = null;
  private snapshotIndex = 0;

  private constructor(
    private readonly dir: string,
    private readonly log: Log,
    private readonly fs: FileSystem,
  ) {}

  static async open(options: FileStorageOptions): Promise<FileStorage> {
    const log = await Log.open({
      dir: join(options.dir, 'log'),
      fsync: options.fsync ?? 'group',
      segmentBytesMax: options.segmentBytesMax,
      firstIndex: 1,
      io: options.io ?? 'pool',
      preallocateBytes: options.preallocateBytes ?? PREALLOCATE_BYTES_DEFAULT,
      fs: options.fs,
    });
    return new FileStorage(options.dir, log, options.fs ?? nodeFileSystem);
  }

  private get hardStatePath(): string {
    return join(this.dir, 'hardstate.json');
  }

  private get snapshotPath(): string {
    return join(this.dir, 'snapshot.bin');
  }

  async load(): Promise<RaftInitialState | null> {
    const hsBytes = await readIfExists(this.fs, this.hardStatePath);
    if (hsBytes) {
      try {
        this.hardState = JSON.parse(new TextDecoder().decode(hsBytes)) as HardState;
      } catch {
        throw new CorruptRaftStateError(this.hardStatePath, 'not JSON');
      }
      this.hardStateOnDisk = { ...this.hardState };
    }
    const snapBytes = await readIfExists(this.fs, this.snapshotPath);
    const snapshot = snapBytes ? decodeSnapshotFile(this.snapshotPath, snapBytes) : null;
    this.snapshotIndex = snapshot?.meta.index ?? 0;

    let from = Math.max(this.log.firstIndex, this.snapshotIndex + 1);
    let entries: Entry[] = [];
    if (snapshot) {
      // The log must continue the snapshot: hold its last entry with the same term, or start
      // right after it. Anything else is a stale log that the snapshot replaced (a crash between
      // writing the snapshot and resetting the log); drop it.
      const holdsLast =
        this.log.firstIndex <= this.snapshotIndex &&
        this.log.nextIndex > this.snapshotIndex &&
        decodeEntryRecord(this.snapshotIndex, await this.log.read(this.snapshotIndex)).term ===
          snapshot.meta.term;
      const startsAfter = this.log.firstIndex === this.snapshotIndex + 1;
      if (!holdsLast && !startsAfter) {
        await this.log.reset(this.snapshotIndex + 1);
        from = this.snapshotIndex + 1;
      }
    }
    for await (const { index, record } of this.log.entries(from))
      entries.push(decodeEntryRecord(index, record));
    if (entries.length > 0 && entries[0].index !== this.snapshotIndex + 1) entries = [];
    if (!hsBytes && !snapshot && entries.length === 0) return null;
    const lastIndex = this.snapshotIndex + entries.length;
    const commit = Math.min(Math.max(this.hardState.commit, this.snapshotIndex), lastIndex);
    return { hardState: { ...this.hardState, commit }, snapshot, entries };
  }

  async save(update: StorageUpdate): Promise<void> {
    if (update.snapshot) await this.installSnapshot(update.snapshot);
    if (update.entries.length > 0) {
      const first = update.entries[0].index;
      if (first < this.log.nextIndex) await this.log.truncateSuffix(Math.max(first, this.log.firstIndex));
      if (first > this.log.nextIndex) {
        throw new CorruptRaftStateError(
          'log',
          `entry ${first} would leave a gap after ${this.log.nextIndex - 1}`,
        );
      }
      await this.log.appendBatch(update.entries.map(encodeEntryRecord));
    }
    if (update.hardState) {
      this.hardState = { ...update.hardState };
      const disk = this.hardStateOnDisk;
      if (!disk || disk.term !== this.hardState.term || disk.vote !== this.hardState.vote) {
        await this.writeHardState();
      }
    }
  }

  /** A snapshot from the leader replaces the log up to its index. */
  private async installSnapshot(snapshot: Snapshot): Promise<void> {
    await writeFileAtomic(this.snapshotPath, encodeSnapshotFile(snapshot), {
      fs: this.fs,
      syncPoint: RAFT_SYNC.snapshot,
    });
    const { index, term } = snapshot.meta;
    this.snapshotIndex = index;
    const holds =
      this.log.firstIndex <= index &&
      this.log.nextIndex > index &&
      decodeEntryRecord(index, await this.log.read(index)).term === term;
    if (holds) await this.log.dropPrefix(index + 1);
    else await this.log.reset(index + 1);
  }

  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    if (snapshot.meta.index <= this.snapshotIndex) return;
    await writeFileAtomic(this.snapshotPath, encodeSnapshotFile(snapshot), {
      fs: this.fs,
      syncPoint: RAFT_SYNC.snapshot,
    });
    this.snapshotIndex = snapshot.meta.index;
    await this.writeHardState();
    // Whole segments below the snapshot go; load() skips any entries the snapshot covers.
    await this.log.dropPrefix(snapshot.meta.index + 1);
  }

  private async writeHardState(): Promise<void> {
    await writeFileAtomic(this.hardStatePath, JSON.stringify(this.hardState), {
      fs: this.fs,
      syncPoint: RAFT_SYNC.hardState,
    });
    this.hardStateOnDisk = { ...this.hardState };
  }

  async close(): Promise<void> {
    if (this.hardStateOnDisk && this.hardStateOnDisk.commit !== this.hardState.commit)
      await this.writeHardState();
    await this.log.close();
  }
}
