// The time-series database without its disk: the series index, the head and the blocks
// loaded from disk, and the one query path over all of them. storage/disk-tsdb.ts adds the
// WAL and the files; tests use this directly.
import { type Block, encodeBlock } from './block-format.js';
import { decodeChunk, latestAtOrBefore } from './chunk.js';
import { type AppendOutcome, Head, type MemSeries, overlapping, type SealedChunk } from './head.js';
import { type Labels, labelsKey } from './labels.js';
import type { Matcher } from './matchers.js';
import { SeriesIndex } from './series-index.js';

/** One series' samples in a time range, oldest first. */
export interface SeriesData {
  labels: Labels;
  timestamps: number[];
  values: number[];
  /** 1 where the sample is a staleness marker (its value is NaN); null when there is none. */
  stale: Uint8Array | null;
}

/** What PromQL reads from. */
export interface Queryable {
  select(matchers: readonly Matcher[], minT: number, maxT: number): SeriesData[];
  /** Optional: per series only the newest sample in [minT, maxT] (instant selectors at one time). */
  selectLatest?(matchers: readonly Matcher[], minT: number, maxT: number): SeriesData[];
}

interface SeriesRef {
  id: number;
  key: string;
  series: MemSeries;
}

interface LoadedBlock {
  name: string;
  block: Block;
  byKey: Map<string, SealedChunk[]>;
}

export interface AppendResult {
  id: number;
  created: boolean;
  outcome: AppendOutcome;
}

/** What queries cost the store: chunks opened and samples decoded from them (tests read it). */
export interface DecodeCounters {
  chunks: number;
  samples: number;
}

export class MemoryTsdb implements Queryable {
  /** Incremented by every select: proves that a narrow range skips the chunks outside it. */
  readonly decoded: DecodeCounters = { chunks: 0, samples: 0 };
  readonly index = new SeriesIndex();
  readonly head = new Head();
  private blocks: LoadedBlock[] = [];
  /** Per series key, the newest timestamp persisted in a block: WAL replay skips up to it. */
  private readonly blockMaxT = new Map<string, number>();

  /**
   * Series references by label-set identity. Building the key string and looking it up in the
   * index was the largest share of ingest time in the profile (README, Bench); a caller that
   * appends the same `Labels` object again — the scraper keeps each target's label sets from one
   * scrape to the next, as Prometheus's scrape cache keeps series references — skips both.
   * Labels are immutable, series are never removed from the index or the head, so a reference
   * stays valid for the object's life.
   */
  private readonly refs = new WeakMap<Labels, SeriesRef>();

  /** Appends one sample; `stale` appends a staleness marker (`value` is then ignored). */
  append(labels: Labels, t: number, value: number, stale = false): AppendResult {
    let ref = this.refs.get(labels);
    let created = false;
    if (ref === undefined) {
      const key = labelsKey(labels);
      const added = this.index.getOrAdd(labels, key);
      created = added.created;
      ref = { id: added.id, key, series: this.head.ensure(added.id, labels) };
      this.refs.set(labels, ref);
    }
    const persisted = this.blockMaxT.size === 0 ? undefined : this.blockMaxT.get(ref.key);
    if (persisted !== undefined && t <= persisted) return { id: ref.id, created, outcome: 'out-of-order' };
    return { id: ref.id, created, outcome: this.head.appendTo(ref.series, t, value, stale) };
  }

  addBlock(name: string, block: Block): void {
    const byKey = new Map<string, SealedChunk[]>();
    for (const s of block.series) {
      const key = labelsKey(s.labels);
      byKey.set(key, s.chunks);
      this.index.getOrAdd(s.labels);
      const last = s.chunks[s.chunks.length - 1]?.maxT ?? Number.NEGATIVE_INFINITY;
      if (last > (this.blockMaxT.get(key) ?? Number.NEGATIVE_INFINITY)) this.blockMaxT.set(key, last);
    }
    this.blocks.push({ name, block, byKey });
    this.blocks.sort((a, b) => a.block.minT - b.block.minT);
  }

  blockNames(): string[] {
    return this.blocks.map((b) => b.name);
  }

  /** Moves sealed head chunks ending before `beforeT` into a new block; null when there are none. */
  cutBlock(beforeT: number): { block: Block; bytes: Uint8Array } | null {
    const taken = this.head.takeSealedBefore(beforeT);
    if (taken.size === 0) return null;
    let minT = Number.POSITIVE_INFINITY;
    let maxT = Number.NEGATIVE_INFINITY;
    const series = [...taken].map(([id, chunks]) => {
      for (const c of chunks) {
        minT = Math.min(minT, c.minT);
        maxT = Math.max(maxT, c.maxT);
      }
      return { labels: this.index.labels(id), chunks };
    });
    const block: Block = { minT, maxT, series };
    return { block, bytes: encodeBlock(block) };
  }

  /** Forgets blocks wholly older than `beforeT` (retention); returns their names. */
  dropBlocksBefore(beforeT: number): string[] {
    const dropped = this.blocks.filter((b) => b.block.maxT < beforeT);
    this.blocks = this.blocks.filter((b) => b.block.maxT >= beforeT);
    return dropped.map((b) => b.name);
  }

  select(matchers: readonly Matcher[], minT: number, maxT: number): SeriesData[] {
    const out: SeriesData[] = [];
    for (const id of this.index.select(matchers)) {
      const d = this.read(id, minT, maxT);
      if (d !== null) out.push(d);
    }
    return out;
  }

  /** The chunks of one series overlapping [minT, maxT], in the blocks and the head, oldest first. */
  private chunksOf(id: number, labels: Labels, minT: number, maxT: number): SealedChunk[] {
    let key: string | undefined;
    const chunks: SealedChunk[] = [];
    for (const b of this.blocks) {
      if (b.block.maxT < minT || b.block.minT > maxT) continue;
      key ??= labelsKey(labels);
      const inBlock = b.byKey.get(key);
      if (inBlock) chunks.push(...overlapping(inBlock, minT, maxT));
    }
    chunks.push(...this.head.chunks(id, minT, maxT));
    chunks.sort((a, b) => a.minT - b.minT);
    return chunks;
  }

  /** One series' samples in [minT, maxT] from the blocks and the head; null when it has none. */
  private read(id: number, minT: number, maxT: number): SeriesData | null {
    const labels = this.index.labels(id);
    const chunks = this.chunksOf(id, labels, minT, maxT);
    if (chunks.length === 0) return null;
    const timestamps: number[] = [];
    const values: number[] = [];
    const staleAt: number[] = [];
    for (const c of chunks) {
      // Chunks before the range are never opened; this one stops at the first sample past it.
      const d = decodeChunk(c.bytes, maxT);
      this.decoded.chunks++;
      this.decoded.samples += d.timestamps.length;
      for (let i = 0; i < d.timestamps.length; i++) {
        const t = d.timestamps[i]!;
        // Chunks never overlap for one series (appends are in order), but keep the merge safe.
        if (t < minT || t > maxT || (timestamps.length > 0 && t <= timestamps[timestamps.length - 1]!))
          continue;
        if (d.stale?.[i] === 1) staleAt.push(timestamps.length);
        timestamps.push(t);
        values.push(d.values[i]!);
      }
    }
    if (timestamps.length === 0) return null;
    let stale: Uint8Array | null = null;
    if (staleAt.length > 0) {
      stale = new Uint8Array(timestamps.length);
      for (const i of staleAt) stale[i] = 1;
    }
    return { labels, timestamps, values, stale };
  }

  /**
   * Per matching series, only its newest sample in [minT, maxT] — what an instant selector reads.
   * The head keeps every series' last sample beside its chunks, so a query at or after it (the
   * usual "now") decodes nothing. An older query time (a scrape landed after it) reads only
   * the newest chunk that starts by then, up to that time, keeping no sample but the last.
   */
  selectLatest(matchers: readonly Matcher[], minT: number, maxT: number): SeriesData[] {
    const out: SeriesData[] = [];
    for (const id of this.index.select(matchers)) {
      const s = this.head.series.get(id);
      // While the head holds chunks of the series, its last sample is the series' newest.
      const inHead = s !== undefined && (s.open.count > 0 || s.sealed.length > 0);
      if (inHead && s.lastT <= maxT) {
        if (s.lastT < minT) continue;
        out.push(oneSample(s.labels, s.lastT, s.lastValue, s.lastStale));
        continue;
      }
      const labels = this.index.labels(id);
      // Chunks never overlap within a series, so the newest sample by maxT is in the last one.
      const newest = this.chunksOf(id, labels, minT, maxT).at(-1);
      if (newest === undefined) continue;
      const latest = latestAtOrBefore(newest.bytes, maxT);
      this.decoded.chunks++;
      if (latest === null || latest.t < minT) continue;
      out.push(oneSample(labels, latest.t, latest.value, latest.stale));
    }
    return out;
  }

  /** Samples and chunk bytes across the head and the blocks. */
  stats(): { series: number; samples: number; chunkBytes: number; blocks: number } {
    const blocks = this.blockStats();
    return {
      series: this.index.size,
      samples: this.head.samples + blocks.samples,
      chunkBytes: this.head.chunkBytes() + blocks.chunkBytes,
      blocks: this.blocks.length,
    };
  }

  /** The blocks' samples and Gorilla chunk bytes (without their index): bytes per sample at rest. */
  blockStats(): { samples: number; chunkBytes: number } {
    let samples = 0;
    let chunkBytes = 0;
    for (const b of this.blocks) {
      for (const s of b.block.series) {
        for (const c of s.chunks) {
          samples += c.count;
          chunkBytes += c.bytes.length;
        }
      }
    }
    return { samples, chunkBytes };
  }
}

function oneSample(labels: Labels, t: number, value: number, stale: boolean): SeriesData {
  return {
    labels,
    timestamps: [t],
    values: [stale ? Number.NaN : value],
    stale: stale ? Uint8Array.of(1) : null,
  };
}
