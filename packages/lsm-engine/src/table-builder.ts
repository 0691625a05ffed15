// Writes one SSTable (book ch. 3 "SSTables and LSM-Trees"): sorted data blocks, one Bloom
// filter block, one index block with the last key of every data block, and a footer.
// The builder is synchronous and emits finished bytes as chunks; the caller writes them
// out asynchronously, so a flush or compaction never holds a whole table in memory.
// LevelDB: table/table_builder.cc. Byte layout: FORMAT.md "Table".
import { assert } from '@ddia/common/core';
import { BlockBuilder } from './block-builder.js';
import { COMPRESSION_TYPES, compressBlock } from './block-codec.js';
import { bloomHash, buildBloom } from './bloom.js';
import { compareBytes, TRAILER_BYTES } from './internal-key.js';
import {
  BLOCK_TRAILER_BYTES,
  blockChecksum,
  COMPRESSION_NONE,
  type Compression,
  FOOTER_BYTES,
  TABLE_MAGIC,
  writeU64,
} from './table-format.js';
import { putVarint32 } from './varint.js';

export interface TableBuilderOptions {
  blockBytes: number;
  restartInterval: number;
  bloomBitsPerKey: number;
  /** Tried on every data and index block; kept only where it saves at least 1/8 (LevelDB). */
  compression?: Compression;
}

export interface TableSummary {
  smallest: Buffer;
  largest: Buffer;
  smallestSeq: number;
  largestSeq: number;
  entries: number;
  bytes: number;
}

const TABLE_BYTES_MAX = 2 ** 32 - 1;

export class TableBuilder {
  private chunks: Buffer[] = [];
  private chunkBytes = 0;
  private offset = 0;
  private readonly data: BlockBuilder;
  private readonly index = new BlockBuilder(1, 1024);
  private hashes = new Uint32Array(1024);
  private hashCount = 0;
  private previousUserKey = Buffer.allocUnsafe(64);
  private previousUserKeyLength = -1;
  private smallest: Buffer | null = null;
  private smallestSeq = Number.POSITIVE_INFINITY;
  private largestSeq = 0;
  private readonly handleScratch = Buffer.allocUnsafe(10);
  entries = 0;

  constructor(private readonly options: TableBuilderOptions) {
    this.data = new BlockBuilder(options.restartInterval, options.blockBytes * 2);
  }

  add(userKey: Uint8Array, seq: number, kind: number, value: Uint8Array): void {
    const newUserKey =
      this.previousUserKeyLength !== userKey.length ||
      compareBytes(this.previousUserKey, 0, this.previousUserKeyLength, userKey, 0, userKey.length) !== 0;
    if (newUserKey) {
      if (this.hashCount === this.hashes.length) {
        const grown = new Uint32Array(this.hashes.length * 2);
        grown.set(this.hashes);
        this.hashes = grown;
      }
      this.hashes[this.hashCount++] = bloomHash(userKey);
      if (this.previousUserKey.length < userKey.length)
        this.previousUserKey = Buffer.allocUnsafe(userKey.length * 2);
      this.previousUserKey.set(userKey, 0);
      this.previousUserKeyLength = userKey.length;
    }
    if (this.smallest === null) this.smallest = Buffer.from(userKey);
    if (seq < this.smallestSeq) this.smallestSeq = seq;
    if (seq > this.largestSeq) this.largestSeq = seq;
    this.data.add(userKey, seq, kind, value);
    this.entries++;
    if (this.data.estimatedBytes() >= this.options.blockBytes) this.finishDataBlock();
  }

  /** Bytes the table will have if finished now (without filter, index and footer). */
  estimatedBytes(): number {
    return this.offset + this.data.estimatedBytes();
  }

  /** The user key last added (a view valid until the next add). */
  lastUserKey(): Buffer {
    return this.previousUserKey.subarray(0, this.previousUserKeyLength);
  }

  /** Finished bytes not yet taken by the writer. */
  takeChunks(): Buffer[] {
    const out = this.chunks;
    this.chunks = [];
    this.chunkBytes = 0;
    return out;
  }

  /** Bytes of finished blocks not yet taken by the writer. */
  pendingBytes(): number {
    return this.chunkBytes;
  }

  /** Writes the last data block, the filter, the index and the footer. */
  finish(): TableSummary {
    assert(this.entries > 0, 'an empty table is never written');
    const largest = Buffer.from(this.lastUserKey());
    if (!this.data.isEmpty()) this.finishDataBlock();
    const filterOffset = this.offset;
    const filter = buildBloom(this.hashes, this.hashCount, this.options.bloomBitsPerKey);
    // The filter is bits that look random: never compressed (LevelDB neither).
    const filterBytes = this.emitBlock(filter, false);
    const indexOffset = this.offset;
    const indexBytes = this.emitBlock(this.index.finish(), true);
    const footer = Buffer.alloc(FOOTER_BYTES);
    writeU64(footer, 0, filterOffset);
    writeU64(footer, 8, filterBytes);
    writeU64(footer, 16, indexOffset);
    writeU64(footer, 24, indexBytes);
    writeU64(footer, 32, this.entries);
    TABLE_MAGIC.copy(footer, 40);
    this.chunks.push(footer);
    this.chunkBytes += FOOTER_BYTES;
    this.offset += FOOTER_BYTES;
    assert(this.offset <= TABLE_BYTES_MAX, 'table larger than 4 GiB');
    return {
      smallest: this.smallest!,
      largest,
      smallestSeq: this.smallestSeq,
      largestSeq: this.largestSeq,
      entries: this.entries,
      bytes: this.offset,
    };
  }

  private finishDataBlock(): void {
    const lastKey = this.data.lastInternalKey();
    const keyCopy = Buffer.from(lastKey);
    assert(keyCopy.length >= TRAILER_BYTES, 'internal key shorter than its trailer');
    const block = this.data.finish();
    const offset = this.offset;
    const stored = this.emitBlock(block, true);
    this.data.reset();
    let at = putVarint32(this.handleScratch, 0, offset);
    at = putVarint32(this.handleScratch, at, stored);
    this.index.addInternal(keyCopy, keyCopy.length, this.handleScratch.subarray(0, at));
  }

  /** Appends the block (compressed where that pays) and its trailer; returns the stored size. */
  private emitBlock(raw: Buffer, compressible: boolean): number {
    let block = raw;
    let type = COMPRESSION_NONE;
    const wanted = compressible ? COMPRESSION_TYPES[this.options.compression ?? 'none'] : COMPRESSION_NONE;
    if (wanted !== COMPRESSION_NONE) {
      const packed = compressBlock(wanted, raw);
      // LevelDB's rule (table_builder.cc): keep the compressed form only if it saves >= 12.5 %.
      if (packed.length < raw.length - raw.length / 8) {
        block = packed;
        type = wanted;
      }
    }
    const trailer = Buffer.allocUnsafe(BLOCK_TRAILER_BYTES);
    trailer[0] = type;
    trailer.writeUInt32LE(blockChecksum(block, type), 1);
    this.chunks.push(block, trailer);
    this.chunkBytes += block.length + BLOCK_TRAILER_BYTES;
    this.offset += block.length + BLOCK_TRAILER_BYTES;
    return block.length;
  }
}
