// A persisted block: the sealed chunks of a time range, with an index of its series
// (Prometheus's blocks hold chunks, an index and meta.json in a directory; ours is one file).
// Layout (FORMAT.md):
//   magic "DDIATSB2" | u32 index length | index | chunk bytes ... | u32 CRC32C of all before it
// The index is binary with a symbol table, as Prometheus's is: every label name and value once,
// series refer to them by number. A JSON index (format 1) cost about 1.2 bytes per sample with
// 120 samples per series in the block; this one about 0.15. Format 1 files are still read.
import { crc32c, readVarint, VARINT_BYTES_MAX, writeVarint } from '@ddia/common/core';
import { ChunkCorruptError } from './errors.js';
import { CHUNK_XOR, chunkSampleCount } from './gorilla.js';
import type { SealedChunk } from './head.js';
import type { Labels } from './labels.js';

const MAGIC = 'DDIATSB2';
const MAGIC_V1 = 'DDIATSB1';
/** Magic and the u32 index length before the index; the CRC after the chunks. */
const PREFIX_BYTES = MAGIC.length + 4;
const CRC_BYTES = 4;
/** The block's minT as an f64 (it may be negative), its maxT - minT a varint. */
const F64_BYTES = 8;

export interface BlockSeries {
  labels: Labels;
  chunks: SealedChunk[];
}

export interface Block {
  minT: number;
  maxT: number;
  series: BlockSeries[];
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/**
 * Index: f64 minT, varint maxT - minT; varint symbol count, each symbol (varint length, UTF-8),
 * sorted; varint series count, each series: varint label count, (varint name symbol, varint
 * value symbol) per label, varint chunk count, per chunk varint minT - block minT, varint
 * maxT - minT, varint byte length. Chunks follow in index order; a chunk's sample count is in
 * its own header.
 */
function encodeIndex(block: Block): Uint8Array {
  const symbols = [...new Set(block.series.flatMap((s) => s.labels.flat()))].sort();
  const symbolNo = new Map(symbols.map((text, i) => [text, i]));
  const symbolBytes = symbols.map((text) => textEncoder.encode(text));
  let varints = 3 + symbols.length;
  for (const s of block.series) varints += 2 + 2 * s.labels.length + 3 * s.chunks.length;
  const out = new Uint8Array(
    F64_BYTES + varints * VARINT_BYTES_MAX + symbolBytes.reduce((n, b) => n + b.length, 0),
  );
  new DataView(out.buffer).setFloat64(0, block.minT);
  let at = writeVarint(out, F64_BYTES, block.maxT - block.minT);
  at = writeVarint(out, at, symbols.length);
  for (const bytes of symbolBytes) {
    at = writeVarint(out, at, bytes.length);
    out.set(bytes, at);
    at += bytes.length;
  }
  at = writeVarint(out, at, block.series.length);
  for (const s of block.series) {
    at = writeVarint(out, at, s.labels.length);
    for (const [name, value] of s.labels) {
      at = writeVarint(out, at, symbolNo.get(name)!);
      at = writeVarint(out, at, symbolNo.get(value)!);
    }
    at = writeVarint(out, at, s.chunks.length);
    for (const c of s.chunks) {
      at = writeVarint(out, at, c.minT - block.minT);
      at = writeVarint(out, at, c.maxT - c.minT);
      at = writeVarint(out, at, c.bytes.length);
    }
  }
  return out.subarray(0, at);
}

export function encodeBlock(block: Block): Uint8Array {
  const index = encodeIndex(block);
  let chunkBytes = 0;
  for (const s of block.series) for (const c of s.chunks) chunkBytes += c.bytes.length;
  const out = new Uint8Array(PREFIX_BYTES + index.length + chunkBytes + CRC_BYTES);
  const view = new DataView(out.buffer);
  out.set(textEncoder.encode(MAGIC), 0);
  view.setUint32(MAGIC.length, index.length);
  out.set(index, PREFIX_BYTES);
  let at = PREFIX_BYTES + index.length;
  for (const s of block.series) {
    for (const c of s.chunks) {
      out.set(c.bytes, at);
      at += c.bytes.length;
    }
  }
  view.setUint32(at, crc32c(out.subarray(0, at)));
  return out;
}

/** Reads the index at `bytes[start, end)` and slices the chunks that follow it. */
function decodeIndex(bytes: Uint8Array, start: number, end: number): Block {
  const index = bytes.subarray(start, end);
  const minT = new DataView(index.buffer, index.byteOffset, index.byteLength).getFloat64(0);
  let at = F64_BYTES;
  const next = (): number => {
    const r = readVarint(index, at);
    at = r.next;
    return r.value;
  };
  const maxT = minT + next();
  const symbols: string[] = new Array(next());
  for (let i = 0; i < symbols.length; i++) {
    const length = next();
    symbols[i] = textDecoder.decode(index.subarray(at, at + length));
    at += length;
  }
  const symbol = (): string => {
    const text = symbols[next()];
    if (text === undefined) throw new ChunkCorruptError('block index names a symbol it does not have');
    return text;
  };
  let chunkAt = end;
  const series: BlockSeries[] = new Array(next());
  for (let i = 0; i < series.length; i++) {
    const labels: [string, string][] = new Array(next());
    for (let j = 0; j < labels.length; j++) labels[j] = [symbol(), symbol()];
    const chunks: SealedChunk[] = new Array(next());
    for (let j = 0; j < chunks.length; j++) {
      const cMinT = minT + next();
      const cMaxT = cMinT + next();
      const chunk = bytes.subarray(chunkAt, chunkAt + next());
      chunkAt += chunk.length;
      chunks[j] = { minT: cMinT, maxT: cMaxT, count: chunkSampleCount(chunk), bytes: chunk };
    }
    series[i] = { labels, chunks };
  }
  if (chunkAt !== bytes.length - CRC_BYTES) throw new ChunkCorruptError('block chunks do not fill the file');
  return { minT, maxT, series };
}

interface IndexJsonV1 {
  minT: number;
  maxT: number;
  series: { labels: [string, string][]; chunks: [number, number, number, number, number][] }[];
}

/** Format 1: a JSON index, XOR chunks without an encoding byte (given one here). */
function decodeIndexV1(bytes: Uint8Array, start: number, end: number): Block {
  const index = JSON.parse(textDecoder.decode(bytes.subarray(start, end))) as IndexJsonV1;
  return {
    minT: index.minT,
    maxT: index.maxT,
    series: index.series.map((s) => ({
      labels: s.labels,
      chunks: s.chunks.map(([minT, maxT, count, offset, length]) => {
        const chunk = new Uint8Array(1 + length);
        chunk[0] = CHUNK_XOR;
        chunk.set(bytes.subarray(end + offset, end + offset + length), 1);
        return { minT, maxT, count, bytes: chunk };
      }),
    })),
  };
}

export function decodeBlock(bytes: Uint8Array): Block {
  const magic =
    bytes.length < PREFIX_BYTES + CRC_BYTES ? '' : textDecoder.decode(bytes.subarray(0, MAGIC.length));
  if (magic !== MAGIC && magic !== MAGIC_V1) throw new ChunkCorruptError('not a block file (bad magic)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.length - CRC_BYTES;
  if (view.getUint32(end) !== crc32c(bytes.subarray(0, end)))
    throw new ChunkCorruptError('block checksum mismatch');
  const indexEnd = PREFIX_BYTES + view.getUint32(MAGIC.length);
  if (indexEnd > end) throw new ChunkCorruptError('block index runs past the file');
  return magic === MAGIC
    ? decodeIndex(bytes, PREFIX_BYTES, indexEnd)
    : decodeIndexV1(bytes, PREFIX_BYTES, indexEnd);
}
