// Committed consumer offsets, durable: every commit is appended to a Log (one JSON record per
// partition committed) and fsync'd before OffsetCommit is answered; at start the log is
// replayed into a map. Kafka keeps the same thing in its compacted __consumer_offsets topic:
// key (group, topic, partition), value the offset. Here the log is compacted the same way
// (newest entry per key) whenever it holds several times more records than live keys.
import type { FileSystem } from '@ddia/common';
import { ErrorCode } from '../core/index.js';
import { join } from '../log/files.js';
import { GenerationalLog } from '../log/generational-log.js';

export interface CommittedOffset {
  offset: number;
  metadata: string | null;
  commitTimestampMs: number;
}

interface OffsetRecord {
  g: string;
  t: string;
  p: number;
  o: number;
  m: string | null;
  ts: number;
  /** A tombstone: the group was deleted. */
  d?: true;
}

/** Rewrite the log when it holds this many times more records than live keys (and at least
 *  COMPACT_RECORDS_MIN_DEFAULT, or what `open` is given: the power-loss test compacts early). */
const COMPACT_RATIO = 4;
export const COMPACT_RECORDS_MIN_DEFAULT = 1000;
const TEXT_ENCODER = new TextEncoder();
const TEXT_DECODER = new TextDecoder();

function keyOf(group: string, topic: string, partition: number): string {
  return JSON.stringify([group, topic, partition]);
}

/** A single broker's offsets: it coordinates every group (CommittedOffsets in ./coordinator.ts). */
export class OffsetStore {
  private readonly offsets = new Map<string, Map<string, CommittedOffset>>();
  private records = 0;
  private live = 0;
  /** Writes (commits, tombstones, compaction) one at a time: a compaction reads the map and
   *  replaces the log, so a commit appended meanwhile to the old log, or appended and not yet
   *  in the map, would be lost from disk. The power-loss test found it (ENOENT on the new
   *  generation, two compactions at once). */
  private writes: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly store: GenerationalLog,
    private readonly compactRecordsMin: number,
  ) {}

  static async open(
    dataDir: string,
    fs?: FileSystem,
    compactRecordsMin = COMPACT_RECORDS_MIN_DEFAULT,
  ): Promise<OffsetStore> {
    const store = await GenerationalLog.open({
      dir: join(dataDir, '__consumer_offsets'),
      fsync: 'interval',
      fs,
    });
    const offsets = new OffsetStore(store, compactRecordsMin);
    const log = store.log;
    for await (const { record } of log.entries(log.firstIndex)) {
      offsets.apply(JSON.parse(TEXT_DECODER.decode(record)) as OffsetRecord);
    }
    return offsets;
  }

  private apply(r: OffsetRecord): void {
    this.records++;
    let group = this.offsets.get(r.g);
    if (!group) {
      group = new Map();
      this.offsets.set(r.g, group);
    }
    const key = keyOf(r.g, r.t, r.p);
    const had = group.has(key);
    if (r.d) {
      if (had) this.live--;
      group.delete(key);
      return;
    }
    group.set(key, { offset: r.o, metadata: r.m, commitTimestampMs: r.ts });
    if (!had) this.live++;
  }

  private serially<T>(write: () => Promise<T>): Promise<T> {
    const run = this.writes.then(write);
    this.writes = run.catch(() => {});
    return run;
  }

  coordinatorError(): number {
    return ErrorCode.NONE;
  }

  /** Appends and fsyncs the commits of one OffsetCommit request, then applies them. */
  commit(
    group: string,
    entries: { topic: string; partition: number; offset: number; metadata: string | null }[],
    nowMs: number,
  ): Promise<number> {
    const records = entries.map((e) => ({
      g: group,
      t: e.topic,
      p: e.partition,
      o: e.offset,
      m: e.metadata,
      ts: nowMs,
    }));
    return this.serially(async () => {
      if (records.length === 0) return ErrorCode.NONE;
      await this.store.log.appendBatch(
        records.map((r) => TEXT_ENCODER.encode(JSON.stringify(r))),
        { sync: true },
      );
      for (const r of records) this.apply(r);
      if (this.records >= this.compactRecordsMin && this.records > COMPACT_RATIO * this.live)
        await this.compact();
      return ErrorCode.NONE;
    });
  }

  get(group: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.offsets.get(group)?.get(keyOf(group, topic, partition));
  }

  /** Every (topic, partition) the group has committed. */
  partitionsOf(group: string): { topic: string; partition: number; committed: CommittedOffset }[] {
    const out: { topic: string; partition: number; committed: CommittedOffset }[] = [];
    for (const [key, committed] of this.offsets.get(group) ?? []) {
      const [, topic, partition] = JSON.parse(key) as [string, string, number];
      out.push({ topic, partition, committed });
    }
    return out;
  }

  groups(): string[] {
    return [...this.offsets.keys()];
  }

  /** A single broker has no other coordinator to hand a group to (a restarted broker's groups
   *  rejoin), so its membership is not written; in a cluster, group-offsets.ts writes it. */
  storeGroup(): Promise<number> {
    return Promise.resolve(ErrorCode.NONE);
  }

  /** Forgets a deleted topic's offsets: tombstones in the log, so a topic of the same name starts afresh. */
  forgetTopic(topic: string, nowMs: number): Promise<void> {
    return this.serially(() => this.appendTombstones(topic, nowMs));
  }

  private async appendTombstones(topic: string, nowMs: number): Promise<void> {
    const tombstones: OffsetRecord[] = [];
    for (const [g, group] of this.offsets) {
      for (const key of group.keys()) {
        const [, t, p] = JSON.parse(key) as [string, string, number];
        if (t === topic) tombstones.push({ g, t, p, o: -1, m: null, ts: nowMs, d: true });
      }
    }
    if (tombstones.length === 0) return;
    await this.store.log.appendBatch(
      tombstones.map((r) => TEXT_ENCODER.encode(JSON.stringify(r))),
      { sync: true },
    );
    for (const r of tombstones) this.apply(r);
  }

  private async compact(): Promise<void> {
    const records: Uint8Array[] = [];
    for (const [g, group] of this.offsets) {
      for (const [key, c] of group) {
        const [, t, p] = JSON.parse(key) as [string, string, number];
        records.push(
          TEXT_ENCODER.encode(
            JSON.stringify({ g, t, p, o: c.offset, m: c.metadata, ts: c.commitTimestampMs }),
          ),
        );
      }
    }
    await this.store.rewrite(records);
    this.records = records.length;
    this.live = records.length;
  }

  /** How many times the log was compacted (its generation). */
  get generation(): number {
    return this.store.generation;
  }

  async close(): Promise<void> {
    await this.writes;
    return this.store.close();
  }
}
