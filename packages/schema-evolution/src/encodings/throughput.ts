// Size and speed of each codec over many records: bytes per record, encode and decode ops/s.
import { performance } from 'node:perf_hooks';
import type { Person } from './book-record.js';
import type { Codec } from './codecs.js';

export interface CodecMeasurement {
  format: string;
  records: number;
  bytesPerRecordMean: number;
  encodeOpsPerSec: number;
  decodeOpsPerSec: number;
}

/** Runs `op` over `items` in rounds until `budgetMs` has passed; returns operations per second. */
function opsPerSecond<T>(items: readonly T[], budgetMs: number, op: (item: T) => unknown): number {
  let ops = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    for (const item of items) op(item);
    ops += items.length;
    elapsed = performance.now() - start;
  } while (elapsed < budgetMs);
  return (ops / elapsed) * 1000;
}

export function measureCodec(codec: Codec, people: readonly Person[], budgetMs: number): CodecMeasurement {
  const encoded = people.map((p) => codec.encode(p));
  const bytes = encoded.reduce((sum, b) => sum + b.length, 0);
  // Warm up both paths so the JIT has compiled them before the clock starts.
  opsPerSecond(people, budgetMs / 4, (p) => codec.encode(p));
  opsPerSecond(encoded, budgetMs / 4, (b) => codec.decode(b));
  return {
    format: codec.name,
    records: people.length,
    bytesPerRecordMean: bytes / people.length,
    encodeOpsPerSec: opsPerSecond(people, budgetMs, (p) => codec.encode(p)),
    decodeOpsPerSec: opsPerSecond(encoded, budgetMs, (b) => codec.decode(b)),
  };
}
