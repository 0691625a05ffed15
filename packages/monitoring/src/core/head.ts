// The head block: the newest samples of every series, in memory, appended to Gorilla chunks
// (Gorilla §4: recent data in memory, compressed). Full chunks are sealed, re-encoded as decimal
// chunks where that is smaller (chunk.ts); a flush moves old sealed chunks to an on-disk block
// (block-format.ts).
import { decodeChunk, sealedBytes } from './chunk.js';
import { ChunkEncoder, SAMPLES_PER_CHUNK } from './gorilla.js';
import type { Labels } from './labels.js';

export interface SealedChunk {
  minT: number;
  maxT: number;
  count: number;
  bytes: Uint8Array;
}

export interface MemSeries {
  labels: Labels;
  sealed: SealedChunk[];
  open: ChunkEncoder;
  lastT: number;
  lastValue: number;
  lastStale: boolean;
}

export type AppendOutcome = 'ok' | 'duplicate' | 'out-of-order';

export class Head {
  readonly series = new Map<number, MemSeries>();
  samples = 0;

  ensure(id: number, labels: Labels): MemSeries {
    let s = this.series.get(id);
    if (!s) {
      s = {
        labels,
        sealed: [],
        open: new ChunkEncoder(),
        lastT: Number.NEGATIVE_INFINITY,
        lastValue: 0,
        lastStale: false,
      };
      this.series.set(id, s);
    }
    return s;
  }

  /**
   * Appends a sample (`stale`: a staleness marker, whatever `value` is); a sample not newer
   * than the series' last is refused (no out-of-order ingest).
   */
  append(id: number, t: number, value: number, stale = false): AppendOutcome {
    const s = this.series.get(id);
    if (!s) throw new Error(`series ${id} not in the head`);
    return this.appendTo(s, t, value, stale);
  }

  /** `append` to a series the caller holds (from `ensure`): no lookup by id. */
  appendTo(s: MemSeries, t: number, value: number, stale = false): AppendOutcome {
    if (t < s.lastT) return 'out-of-order';
    if (t === s.lastT) {
      const same = stale ? s.lastStale : !s.lastStale && Object.is(value, s.lastValue);
      return same ? 'duplicate' : 'out-of-order';
    }
    s.open.append(t, value, stale);
    s.lastT = t;
    s.lastValue = value;
    s.lastStale = stale;
    this.samples++;
    // Sealed as soon as it is full, so that a full chunk is held in its smaller encoding.
    if (s.open.count >= SAMPLES_PER_CHUNK) {
      const bytes = sealedBytes(s.open.bytes());
      s.sealed.push({ minT: s.open.minT, maxT: s.open.maxT, count: s.open.count, bytes });
      s.open = new ChunkEncoder();
    }
    return 'ok';
  }

  /**
   * The chunks of a series overlapping [minT, maxT], the open one included — as a view of the
   * encoder's buffer, so read it before the series' next append.
   */
  chunks(id: number, minT: number, maxT: number): SealedChunk[] {
    const s = this.series.get(id);
    if (!s) return [];
    const out = overlapping(s.sealed, minT, maxT);
    if (s.open.count > 0 && s.open.maxT >= minT && s.open.minT <= maxT) {
      out.push({ minT: s.open.minT, maxT: s.open.maxT, count: s.open.count, bytes: s.open.view() });
    }
    return out;
  }

  /** Removes and returns the sealed chunks that end before `beforeT`, by series id. */
  takeSealedBefore(beforeT: number): Map<number, SealedChunk[]> {
    const out = new Map<number, SealedChunk[]>();
    for (const [id, s] of this.series) {
      const old = s.sealed.filter((c) => c.maxT < beforeT);
      if (old.length === 0) continue;
      s.sealed = s.sealed.filter((c) => c.maxT >= beforeT);
      for (const c of old) this.samples -= c.count;
      out.set(id, old);
    }
    return out;
  }

  get maxT(): number {
    let max = Number.NEGATIVE_INFINITY;
    for (const s of this.series.values()) if (s.lastT > max) max = s.lastT;
    return max;
  }

  get minT(): number {
    let min = Number.POSITIVE_INFINITY;
    for (const s of this.series.values()) {
      const first = s.sealed[0]?.minT ?? (s.open.count > 0 ? s.open.minT : Number.POSITIVE_INFINITY);
      if (first < min) min = first;
    }
    return min;
  }

  /** Every sample still in the head, per series (a WAL checkpoint writes these). */
  *allSamples(): Generator<{ id: number; timestamps: number[]; values: number[]; stale: boolean[] }> {
    for (const [id, s] of this.series) {
      const timestamps: number[] = [];
      const values: number[] = [];
      const stale: boolean[] = [];
      for (const c of [...s.sealed, ...(s.open.count > 0 ? [{ bytes: s.open.bytes() }] : [])]) {
        const d = decodeChunk(c.bytes);
        for (let i = 0; i < d.timestamps.length; i++) {
          timestamps.push(d.timestamps[i]!);
          values.push(d.values[i]!);
          stale.push(d.stale?.[i] === 1);
        }
      }
      yield { id, timestamps, values, stale };
    }
  }

  /** Bytes held by chunks, for the bytes-per-sample gauge. */
  chunkBytes(): number {
    let bytes = 0;
    for (const s of this.series.values()) {
      for (const c of s.sealed) bytes += c.bytes.length;
      bytes += s.open.byteLength;
    }
    return bytes;
  }
}

/**
 * The chunks of one series (sorted, non-overlapping) that overlap [minT, maxT]: a binary search
 * for the first chunk ending at or after minT, then forward while chunks start by maxT.
 */
export function overlapping(chunks: readonly SealedChunk[], minT: number, maxT: number): SealedChunk[] {
  let lo = 0;
  let hi = chunks.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (chunks[mid]!.maxT < minT) lo = mid + 1;
    else hi = mid;
  }
  const out: SealedChunk[] = [];
  for (let i = lo; i < chunks.length && chunks[i]!.minT <= maxT; i++) out.push(chunks[i]!);
  return out;
}
