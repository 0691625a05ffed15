// A persisted block: the sealed chunks of a time range, with an index of its series
// (Prometheus's blocks hold chunks, an index and meta.json in a directory; ours is one file).
// Layout (FORMAT.md):
//   magic "DDIATSB1" | u32 index length | index (JSON) | chunk bytes ... | u32 CRC32C of all before it
// The index lists each series' labels and its chunks' [minT, maxT, count, offset, length].
import { crc32c } from '@ddia/common/core';
import { ChunkCorruptError } from './errors.js';
import type { SealedChunk } from './head.js';
import type { Labels } from './labels.js';

const MAGIC = 'DDIATSB1';

export interface BlockSeries {
  labels: Labels;
  chunks: SealedChunk[];
}

export interface Block {
  minT: number;
  maxT: number;
  series: BlockSeries[];
}

interface IndexJson {
  minT: number;
  maxT: number;
  series: { labels: [string, string][]; chunks: [number, number, number, number, number][] }[];
}

export function encodeBlock(block: Block): Uint8Array {
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const index: IndexJson = {
    minT: block.minT,
    maxT: block.maxT,
    series: block.series.map((s) => ({
      labels: s.labels.map(([n, v]) => [n, v]),
      chunks: s.chunks.map((c) => {
        chunks.push(c.bytes);
        const entry: [number, number, number, number, number] = [
          c.minT,
          c.maxT,
          c.count,
          offset,
          c.bytes.length,
        ];
        offset += c.bytes.length;
        return entry;
      }),
    })),
  };
  const indexBytes = new TextEncoder().encode(JSON.stringify(index));
  const total = MAGIC.length + 4 + indexBytes.length + offset + 4;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode(MAGIC), 0);
  view.setUint32(MAGIC.length, indexBytes.length);
  out.set(indexBytes, MAGIC.length + 4);
  let at = MAGIC.length + 4 + indexBytes.length;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  view.setUint32(at, crc32c(out.subarray(0, at)));
  return out;
}

export function decodeBlock(bytes: Uint8Array): Block {
  if (
    bytes.length < MAGIC.length + 8 ||
    new TextDecoder().decode(bytes.subarray(0, MAGIC.length)) !== MAGIC
  ) {
    throw new ChunkCorruptError('not a block file (bad magic)');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.length - 4;
  if (view.getUint32(end) !== crc32c(bytes.subarray(0, end)))
    throw new ChunkCorruptError('block checksum mismatch');
  const indexLength = view.getUint32(MAGIC.length);
  const dataStart = MAGIC.length + 4 + indexLength;
  const index = JSON.parse(
    new TextDecoder().decode(bytes.subarray(MAGIC.length + 4, dataStart)),
  ) as IndexJson;
  return {
    minT: index.minT,
    maxT: index.maxT,
    series: index.series.map((s) => ({
      labels: s.labels,
      chunks: s.chunks.map(([minT, maxT, count, offset, length]) => ({
        minT,
        maxT,
        count,
        bytes: bytes.subarray(dataStart + offset, dataStart + offset + length),
      })),
    })),
  };
}
