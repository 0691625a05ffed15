// Turns a sorted stream of internal entries into new tables: the work of a flush (one sorted
// run, the frozen memtable) and of a compaction (a merge of input tables). It is synchronous
// and touches only the files it is given, so it runs on a worker thread (table-worker.ts)
// while the main thread keeps taking writes, as LevelDB's background thread does
// (db_impl.cc BackgroundCompaction / DoCompactionWork / WriteLevel0Table). Files go through
// common's FileSystem layer: the real one on a worker thread, any one (a test's
// FaultFileSystem) when the job runs on the main thread.
import { join } from 'node:path';
import { assert } from '@ddia/common/core';
import { type FileHandle, type FileSystem, nodeFileSystem } from '@ddia/common/fs';
import {
  compareBytes,
  compareKeys,
  type InternalIterator,
  KIND_DELETE,
  KIND_PUT,
  SEQ_AFTER_ALL,
  SEQ_MAX,
} from './internal-key.js';
import type { EntryHeaderWriter, Memtable, PackCursor } from './memtable.js';
import { MergingIterator } from './merging-iterator.js';
import { LSM_SYNC } from './sync-points.js';
import { Table, type TableReadStats } from './table.js';
import { TableBuilder } from './table-builder.js';
import { type Compression, tableFileName } from './table-format.js';
import type { TableMeta } from './version.js';

/** Where the entries come from: a packed sorted run (a flush) or table files (a compaction). */
export type TableJobSource =
  | { kind: 'run'; run: Uint8Array }
  | { kind: 'tables'; fileNumbers: number[]; fileBytes: number[] };

export interface TableJob {
  dir: string;
  source: TableJobSource;
  /** File numbers reserved for the outputs, used in order. */
  fileNumbers: number[];
  /** Cut outputs at about targetFileBytes (leveled compactions); otherwise one output. */
  split: boolean;
  targetFileBytes: number;
  blockBytes: number;
  restartInterval: number;
  bloomBitsPerKey: number;
  compression: Compression;
  /** Versions older than the newest one at or below this sequence are invisible to everyone. */
  smallestSnapshot: number;
  /** Tombstones may be dropped (a compaction) when no range here can hold an older version. */
  dropTombstones: boolean;
  olderRanges: [smallest: Uint8Array, largest: Uint8Array][];
  /** Only user keys >= startKey (a subcompaction's share of the key space); null: from the first. */
  startKey: Uint8Array | null;
  /** Only user keys < endKey; null: to the last. */
  endKey: Uint8Array | null;
}

/**
 * The number of output files a job may need. Every output but the last holds at least
 * targetFileBytes of the input's data, and a merge never grows the data, so twice the ratio
 * plus two is a safe reservation (unused numbers are simply skipped).
 */
export function outputsBound(inputBytes: number, split: boolean, targetFileBytes: number): number {
  return split ? 2 * Math.ceil(inputBytes / targetFileBytes) + 2 : 1;
}

/**
 * Writes the merged stream into new tables, dropping what no reader can see: versions
 * shadowed by a newer one that every snapshot sees, and tombstones with nothing older
 * beneath them (LevelDB DoCompactionWork's two drop rules). Each output is fdatasynced;
 * the caller fsyncs the directory before naming them in the manifest. On failure every
 * output written so far is removed.
 */
export function writeTables(
  job: TableJob,
  cancelled: () => boolean = () => false,
  fs: FileSystem = nodeFileSystem,
): TableMeta[] {
  const { source, stats } = openSource(job, fs);
  const outputs: TableMeta[] = [];
  const written: number[] = [];
  let builder: TableBuilder | null = null;
  let file: FileHandle | null = null;
  let position = 0;
  let fileNumber = 0;
  let lastKey = Buffer.allocUnsafe(256);
  let lastKeyLength = -1;
  let lastSeqForKey = Number.POSITIVE_INFINITY;
  let sinceCheck = 0;
  const canDropTombstone = (key: Buffer): boolean =>
    job.dropTombstones &&
    job.olderRanges.every(
      ([smallest, largest]) => compareKeys(key, smallest) < 0 || compareKeys(key, largest) > 0,
    );
  const drain = (): void => {
    const chunks = builder!.takeChunks();
    if (chunks.length > 0) position = writeAll(file!, position, chunks);
  };
  const finishOutput = (): void => {
    const summary = builder!.finish();
    drain();
    // Durable before the caller's directory fsync and the manifest edit that names it.
    file!.datasyncSync(LSM_SYNC.tableSync);
    file!.closeSync();
    file = null;
    outputs.push({ number: fileNumber, ...summary });
    builder = null;
  };
  try {
    // The newest version of startKey sorts first among its versions: seek to it.
    if (job.startKey === null) source.start();
    else source.seek(job.startKey, SEQ_MAX);
    for (; source.valid(); source.advance()) {
      if (++sinceCheck >= ENTRIES_PER_CANCEL_CHECK) {
        sinceCheck = 0;
        if (cancelled()) throw new TableJobCancelled('the engine is closing');
      }
      const key = source.key();
      if (job.endKey !== null && compareKeys(key, job.endKey) >= 0) break;
      const seq = source.seq();
      const kind = source.kind();
      const newKey =
        lastKeyLength !== key.length || compareBytes(lastKey, 0, lastKeyLength, key, 0, key.length) !== 0;
      if (newKey) {
        if (
          builder !== null &&
          job.split &&
          (builder as TableBuilder).estimatedBytes() >= job.targetFileBytes
        )
          finishOutput();
        if (lastKey.length < key.length) lastKey = Buffer.allocUnsafe(key.length * 2);
        key.copy(lastKey);
        lastKeyLength = key.length;
        lastSeqForKey = Number.POSITIVE_INFINITY;
      }
      let drop = false;
      if (lastSeqForKey <= job.smallestSnapshot) drop = true;
      else if (kind === KIND_DELETE && seq <= job.smallestSnapshot && canDropTombstone(key)) drop = true;
      lastSeqForKey = seq;
      if (drop) continue;
      if (builder === null) {
        assert(written.length < job.fileNumbers.length, 'table job ran out of reserved file numbers');
        fileNumber = job.fileNumbers[written.length]!;
        written.push(fileNumber);
        file = fs.openSync(join(job.dir, tableFileName(fileNumber)), {
          write: true,
          create: true,
          truncate: true,
        });
        position = 0;
        builder = new TableBuilder({
          blockBytes: job.blockBytes,
          restartInterval: job.restartInterval,
          bloomBitsPerKey: job.bloomBitsPerKey,
          compression: job.compression,
        });
      }
      const b = builder as TableBuilder;
      b.add(key, seq, kind === KIND_PUT ? KIND_PUT : KIND_DELETE, source.value());
      // Hand finished blocks to the kernel as they come: a table is never held whole in memory.
      if (b.pendingBytes() >= DRAIN_BYTES) drain();
    }
    if (builder !== null) finishOutput();
    return outputs;
  } catch (err) {
    (file as FileHandle | null)?.closeSync();
    for (const n of written) {
      try {
        fs.unlinkSync(join(job.dir, tableFileName(n)));
      } catch {
        // Gone already, or the disk is failing too: the job's own error is the one to report,
        // and the next open deletes tables that no manifest names.
      }
    }
    throw err;
  } finally {
    for (const t of stats.tables) t.close();
  }
}

/** Writes the chunks at `position` in one write (one copy into one buffer: cheaper than a
 *  write per 4 KiB block); returns the position after them. */
function writeAll(file: FileHandle, position: number, chunks: Buffer[]): number {
  const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  let done = 0;
  while (done < bytes.length) done += file.writeSync(bytes, done, bytes.length - done, position + done);
  return position + bytes.length;
}

/** Entries written between looks at the cancel flag. */
const ENTRIES_PER_CANCEL_CHECK = 4096;

/** Thrown inside a job whose engine is closing (reported as TableJobAbortedError). */
export class TableJobCancelled extends Error {
  override name = 'TableJobAbortedError';
}

/** Finished table bytes gathered before one writev. */
const DRAIN_BYTES = 256 * 1024;

function openSource(job: TableJob, fs: FileSystem): { source: MergingIterator; stats: { tables: Table[] } } {
  if (job.source.kind === 'run') {
    return {
      source: new MergingIterator([new PackedRunIterator(job.source.run)], false),
      stats: { tables: [] },
    };
  }
  const readStats: TableReadStats = { bloomChecks: 0, bloomNegatives: 0, dataBlockSearches: 0 };
  const tables: Table[] = [];
  try {
    const { fileNumbers, fileBytes } = job.source;
    fileNumbers.forEach((n, i) => {
      tables.push(Table.open(join(job.dir, tableFileName(n)), n, fileBytes[i]!, null, readStats, fs));
    });
  } catch (err) {
    for (const t of tables) t.close();
    throw err;
  }
  const children: InternalIterator[] = tables.map((t) => t.iterator(false));
  return { source: new MergingIterator(children, false), stats: { tables } };
}

// A sorted run packed into one buffer, to hand a frozen memtable to a worker in a single
// transfer. Per entry: key length (u32 LE), value length (u32 LE), sequence (u48 LE), kind
// (u8), key bytes, value bytes. In memory only; never on disk.
const RUN_ENTRY_HEADER_BYTES = 4 + 4 + 6 + 1;
/**
 * Entries packed between two turns of the event loop: about 2 ms of work. Packing a full
 * 64 MiB memtable (some 200,000 entries) in one go holds the main thread for 150-250 ms, and
 * every request waiting on it takes that much longer (in the kv-store, its worst p99).
 */
export const PACK_ENTRIES_PER_TURN = 2_048;

/** The run buffer starts at most this large and doubles as needed (a flush that drops most
 *  versions packs a small fraction of its memtable). */
const PACK_BYTES_INITIAL_MAX = 1024 * 1024;

export interface PackOptions {
  /** About how many bytes the entries take (the memtable's count). */
  bytesHint: number;
  /** Entries packed between two turns of the event loop. */
  entriesPerTurn?: number;
  /**
   * The oldest sequence any reader may still read at (the oldest snapshot, else the last
   * sequence). Versions of a key older than one at or below it are hidden from every reader
   * and are left out, as the table job would drop them anyway (writeTables): a key written a
   * thousand times since the last flush is packed once, not a thousand times (RocksDB drops
   * them at flush too; LevelDB leaves them to the first compaction). Without it, all are kept.
   */
  smallestSnapshot?: number;
}

/**
 * Packs entries (already in internal-key order) into one buffer, yielding to the event loop
 * every `entriesPerTurn` entries. The source must not change meanwhile and its keys must stay
 * valid after next() (a frozen memtable's do).
 */
export async function packRun(source: InternalIterator, options: PackOptions): Promise<Uint8Array> {
  const entriesPerTurn = options.entriesPerTurn ?? PACK_ENTRIES_PER_TURN;
  const smallestSnapshot = options.smallestSnapshot ?? Number.NEGATIVE_INFINITY;
  // allocUnsafeSlow: a buffer of its own, never a slice of Node's shared pool, since the
  // caller transfers the underlying ArrayBuffer to a worker.
  let out = Buffer.allocUnsafeSlow(Math.max(1024, Math.min(options.bytesHint, PACK_BYTES_INITIAL_MAX)));
  let at = 0;
  let visited = 0;
  source.seekToFirst();
  while (source.valid()) {
    const key = source.key();
    const value = source.value();
    const seq = source.seq();
    const need = RUN_ENTRY_HEADER_BYTES + key.length + value.length;
    if (at + need > out.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(out.length * 2, at + need));
      out.copy(grown, 0, 0, at);
      out = grown;
    }
    writeRunEntryHeader(out, at, key.length, value.length, seq, source.kind());
    out.set(key, at + RUN_ENTRY_HEADER_BYTES);
    out.set(value, at + RUN_ENTRY_HEADER_BYTES + key.length);
    at += need;
    source.next();
    // Every older version of this key is hidden from every reader now: seek past them all
    // (a copy of the key: the source's own may not outlive the move).
    if (seq <= smallestSnapshot && source.valid() && compareKeys(source.key(), key) === 0)
      source.seek(Buffer.from(key), SEQ_AFTER_ALL);
    if (++visited % entriesPerTurn === 0) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return out.subarray(0, at);
}

/** A packed run's entry header: key length, value length, sequence, kind. */
const writeRunEntryHeader: EntryHeaderWriter = (out, at, keyLength, valueLength, seq, kind) => {
  out.writeUInt32LE(keyLength, at);
  out.writeUInt32LE(valueLength, at + 4);
  out.writeUIntLE(seq, at + 8, 6);
  out[at + 14] = kind;
};

/**
 * packRun() of a frozen memtable, copied straight from its arena (Memtable.packInto): no key
 * or value view per entry, and the buffer sized once (the memtable counts its entries' bytes).
 * The same bytes as packRun(table.iterator(), ...), which stays for any other source.
 */
export async function packMemtable(
  table: Memtable,
  options: Omit<PackOptions, 'bytesHint'>,
): Promise<Uint8Array> {
  const entriesPerTurn = options.entriesPerTurn ?? PACK_ENTRIES_PER_TURN;
  const smallestSnapshot = options.smallestSnapshot ?? Number.NEGATIVE_INFINITY;
  // allocUnsafeSlow: transferred to a worker, so never a slice of Node's shared pool.
  const out = Buffer.allocUnsafeSlow(Math.max(1, table.entries * RUN_ENTRY_HEADER_BYTES + table.entryBytes));
  const cursor: PackCursor = { node: table.first(), at: 0 };
  for (;;) {
    table.packInto(
      cursor,
      out,
      entriesPerTurn,
      RUN_ENTRY_HEADER_BYTES,
      writeRunEntryHeader,
      smallestSnapshot,
    );
    if (cursor.node < 0) break;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return out.subarray(0, cursor.at);
}

/** Forward-only iterator over a packed run (all a table job needs). */
export class PackedRunIterator implements InternalIterator {
  private readonly bytes: Buffer;
  private at = 0;
  private keyView: Buffer = EMPTY;
  private valueView: Buffer = EMPTY;
  private seqValue = 0;
  private kindValue = 0;
  private validNow = false;

  constructor(run: Uint8Array) {
    this.bytes = Buffer.from(run.buffer, run.byteOffset, run.byteLength);
  }
  valid(): boolean {
    return this.validNow;
  }
  seekToFirst(): void {
    this.at = 0;
    this.load();
  }
  next(): void {
    this.load();
  }
  seekToLast(): void {
    throw new Error('a packed run is read forward only');
  }
  seek(): void {
    throw new Error('a packed run is read forward only');
  }
  prev(): void {
    throw new Error('a packed run is read forward only');
  }
  key(): Buffer {
    return this.keyView;
  }
  seq(): number {
    return this.seqValue;
  }
  kind(): number {
    return this.kindValue;
  }
  value(): Buffer {
    return this.valueView;
  }
  private load(): void {
    const b = this.bytes;
    if (this.at >= b.length) {
      this.validNow = false;
      return;
    }
    const keyLength = b.readUInt32LE(this.at);
    const valueLength = b.readUInt32LE(this.at + 4);
    this.seqValue = b.readUIntLE(this.at + 8, 6);
    this.kindValue = b[this.at + 14]!;
    const keyStart = this.at + RUN_ENTRY_HEADER_BYTES;
    this.keyView = b.subarray(keyStart, keyStart + keyLength);
    this.valueView = b.subarray(keyStart + keyLength, keyStart + keyLength + valueLength);
    this.at = keyStart + keyLength + valueLength;
    this.validNow = true;
  }
}

const EMPTY = Buffer.alloc(0);
