// Reads one SSTable. The footer, index block and Bloom filter are read once when the table
// is opened and kept in memory; data blocks are read on demand through the block cache.
// Reads use positioned synchronous reads (pread): a block is a few KiB, normally in the
// page cache, and a synchronous read costs microseconds where a thread-pool round trip
// costs tens. LevelDB: table/table.cc, table/two_level_iterator.cc. Files are read through
// common's FileSystem layer (one method call more per read than node:fs itself).
import { basename } from 'node:path';
import { type FileHandle, type FileSystem, nodeFileSystem } from '@ddia/common/fs';
import { Block, BlockFormatError, type BlockIterator } from './block.js';
import type { BlockCache } from './block-cache.js';
import { decompressBlock, knownBlockType } from './block-codec.js';
import { bloomMayContain } from './bloom.js';
import { CorruptTableError, LsmOptionsError } from './errors.js';
import { compareKeys, type InternalIterator, KIND_DELETE } from './internal-key.js';
import {
  BLOCK_TRAILER_BYTES,
  type BlockHandle,
  blockChecksum,
  COMPRESSION_NONE,
  FOOTER_BYTES,
  readU64,
  TABLE_MAGIC,
} from './table-format.js';
import { getVarint32, type VarintCursor } from './varint.js';

export interface TableReadStats {
  /** Point lookups that reached this table (each asks the Bloom filter first). */
  bloomChecks: number;
  bloomNegatives: number;
  /** Data blocks searched by point lookups (the filter said "maybe", or there is none). */
  dataBlockSearches: number;
}

export type LookupResult = { found: false } | { found: true; deleted: boolean; value: Buffer };

const NOT_FOUND: LookupResult = { found: false };

export class Table {
  readonly name: string;
  readonly index: Block;
  readonly filter: Buffer;
  readonly entries: number;
  private closed = false;
  private readonly cursor: VarintCursor = { value: 0, offset: 0 };

  private constructor(
    readonly path: string,
    readonly fileNumber: number,
    private readonly handle: FileHandle,
    readonly fileBytes: number,
    private readonly cache: BlockCache | null,
    private readonly stats: TableReadStats,
  ) {
    this.name = basename(path);
    if (fileBytes < FOOTER_BYTES)
      throw new CorruptTableError(this.name, 0, `file of ${fileBytes} bytes has no footer`);
    const footer = this.readExact(fileBytes - FOOTER_BYTES, FOOTER_BYTES);
    if (!footer.subarray(40).equals(TABLE_MAGIC)) {
      throw new CorruptTableError(this.name, fileBytes - 8, 'bad magic number (not a table, or truncated)');
    }
    const filterHandle = { offset: readU64(footer, 0), size: readU64(footer, 8) };
    const indexHandle = { offset: readU64(footer, 16), size: readU64(footer, 24) };
    this.entries = readU64(footer, 32);
    for (const h of [filterHandle, indexHandle]) {
      if (
        !(h.offset >= 0 && h.size >= 0 && h.offset + h.size + BLOCK_TRAILER_BYTES <= fileBytes - FOOTER_BYTES)
      ) {
        throw new CorruptTableError(this.name, fileBytes - FOOTER_BYTES, 'footer points outside the file');
      }
    }
    this.filter = this.readBlockBytes(filterHandle);
    this.index = this.parseBlock(this.readBlockBytes(indexHandle), indexHandle.offset);
  }

  /**
   * Opens a table file of `fileBytes` bytes (the manifest's size, as LevelDB's TableCache
   * takes it from FileMetaData; a shorter file fails its reads as CorruptTableError); throws
   * CorruptTableError when its footer, index or filter is damaged.
   */
  static open(
    path: string,
    fileNumber: number,
    fileBytes: number,
    cache: BlockCache | null,
    stats: TableReadStats,
    fs: FileSystem = nodeFileSystem,
  ): Table {
    const handle = fs.openSync(path);
    try {
      return new Table(path, fileNumber, handle, fileBytes, cache, stats);
    } catch (err) {
      handle.closeSync();
      throw err;
    }
  }

  /** Point lookup: the newest version of userKey with sequence <= seq in this table. */
  get(userKey: Uint8Array, seq: number, hash: number): LookupResult {
    this.stats.bloomChecks++;
    if (!bloomMayContain(this.filter, hash)) {
      this.stats.bloomNegatives++;
      return NOT_FOUND;
    }
    const indexIt = this.index.iterator();
    indexIt.seek(userKey, seq);
    if (!indexIt.valid()) return NOT_FOUND;
    this.stats.dataBlockSearches++;
    const it = this.dataBlock(this.decodeHandle(indexIt.value()), true).iterator();
    it.seek(userKey, seq);
    if (!it.valid() || compareKeys(it.key(), userKey) !== 0) return NOT_FOUND;
    return { found: true, deleted: it.kind() === KIND_DELETE, value: it.value() };
  }

  /** An iterator over every entry; `fillCache: false` for compaction scans. */
  iterator(fillCache = true): InternalIterator {
    return new TableIterator(this, fillCache);
  }

  /** Every data block's offset (to evict them from the cache when the file goes). */
  *blockOffsets(): Iterable<number> {
    const it = this.index.iterator();
    for (it.seekToFirst(); it.valid(); it.next()) yield this.decodeHandle(it.value()).offset;
  }

  decodeHandle(bytes: Buffer): BlockHandle {
    const c = this.cursor;
    c.offset = 0;
    getVarint32(bytes, c);
    const offset = c.value;
    getVarint32(bytes, c);
    return { offset, size: c.value };
  }

  dataBlock(handle: BlockHandle, fillCache: boolean): Block {
    const cached = this.cache?.get(this.fileNumber, handle.offset);
    if (cached) return cached;
    const block = this.parseBlock(this.readBlockBytes(handle), handle.offset);
    if (fillCache) this.cache?.set(this.fileNumber, handle.offset, block);
    return block;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handle.closeSync();
  }

  private parseBlock(bytes: Buffer, offset: number): Block {
    try {
      return new Block(bytes);
    } catch (err) {
      if (err instanceof BlockFormatError) throw new CorruptTableError(this.name, offset, err.message);
      throw err;
    }
  }

  private readBlockBytes(handle: BlockHandle): Buffer {
    if (handle.offset + handle.size + BLOCK_TRAILER_BYTES > this.fileBytes) {
      throw new CorruptTableError(this.name, handle.offset, 'block handle points past the end of the file');
    }
    const bytes = this.readExact(handle.offset, handle.size + BLOCK_TRAILER_BYTES);
    const block = bytes.subarray(0, handle.size);
    const type = bytes[handle.size]!;
    if (!knownBlockType(type)) {
      throw new CorruptTableError(this.name, handle.offset + handle.size, `unknown block type ${type}`);
    }
    // The checksum covers the stored (compressed) bytes, as in LevelDB: checked before inflating.
    if (bytes.readUInt32LE(handle.size + 1) !== blockChecksum(block, type)) {
      throw new CorruptTableError(this.name, handle.offset, 'block checksum mismatch');
    }
    if (type === COMPRESSION_NONE) return block;
    try {
      return decompressBlock(type, block);
    } catch (err) {
      // A codec that cannot load is not damage to the file.
      if (err instanceof LsmOptionsError) throw err;
      throw new CorruptTableError(this.name, handle.offset, `block does not decompress: ${String(err)}`);
    }
  }

  private readExact(offset: number, length: number): Buffer {
    const buffer = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const n = this.handle.readSync(buffer, done, length - done, offset + done);
      if (n === 0) throw new CorruptTableError(this.name, offset + done, 'unexpected end of file');
      done += n;
    }
    return buffer;
  }
}

/** Index block iterator over data block iterators (LevelDB's two-level iterator). */
class TableIterator implements InternalIterator {
  private readonly indexIt: BlockIterator;
  private dataIt: BlockIterator | null = null;

  constructor(
    private readonly table: Table,
    private readonly fillCache: boolean,
  ) {
    this.indexIt = table.index.iterator();
  }

  valid(): boolean {
    return this.dataIt?.valid() === true;
  }
  seekToFirst(): void {
    this.indexIt.seekToFirst();
    this.loadBlock();
    this.dataIt?.seekToFirst();
    this.skipEmptyForward();
  }
  seekToLast(): void {
    this.indexIt.seekToLast();
    this.loadBlock();
    this.dataIt?.seekToLast();
    this.skipEmptyBackward();
  }
  seek(userKey: Uint8Array, seq: number): void {
    this.indexIt.seek(userKey, seq);
    this.loadBlock();
    this.dataIt?.seek(userKey, seq);
    this.skipEmptyForward();
  }
  next(): void {
    this.dataIt!.next();
    this.skipEmptyForward();
  }
  prev(): void {
    this.dataIt!.prev();
    this.skipEmptyBackward();
  }
  key(): Buffer {
    return this.dataIt!.key();
  }
  seq(): number {
    return this.dataIt!.seq();
  }
  kind(): number {
    return this.dataIt!.kind();
  }
  value(): Buffer {
    return this.dataIt!.value();
  }

  private loadBlock(): void {
    if (!this.indexIt.valid()) {
      this.dataIt = null;
      return;
    }
    const handle = this.table.decodeHandle(this.indexIt.value());
    this.dataIt = this.table.dataBlock(handle, this.fillCache).iterator();
  }

  private skipEmptyForward(): void {
    while (this.dataIt !== null && !this.dataIt.valid()) {
      this.indexIt.next();
      this.loadBlock();
      this.dataIt?.seekToFirst();
    }
  }

  private skipEmptyBackward(): void {
    while (this.dataIt !== null && !this.dataIt.valid()) {
      this.indexIt.prev();
      this.loadBlock();
      this.dataIt?.seekToLast();
    }
  }
}
