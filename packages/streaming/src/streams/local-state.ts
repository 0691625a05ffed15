// The local, durable copy of a StreamApp's state stores: an abstract-level database (opened by
// the caller through common's openStore, so the lab's LSM engine, LevelDB or memory can back
// it) holding every store entry plus a checkpoint: the changelog offset the entries reflect.
// Kafka Streams does the same with RocksDB and its `.checkpoint` file: after a restart on the
// same machine the app loads its local store and reads the changelog only from the
// checkpoint on, instead of from the beginning; on a new machine (no local store) it reads
// the whole changelog.
//
// Order of a batch (runner.ts): outputs, then the changelog append (the commit point), then
// this store. So the local store is never ahead of the changelog: a crash between the last two
// steps leaves it behind, and the restart reads that batch back from the changelog tail.
import type { Store } from '@ddia/common';
import type { StateChange, StateStores } from '../core/streams/index.js';

/**
 * Keys, per task (one input partition number, runner.ts): `t<task>\0e\0<store>\0<key>` for the
 * entries, `t<task>\0c` for the checkpoint (an offset in the changelog's partition <task>).
 */
const taskPrefix = (task: number) => `t${task}\u0000`;
/** One write batch to the store holds at most this many changes (a bounded memtable burst). */
const WRITE_BATCH_MAX = 10_000;

export interface LocalLoad {
  /** Entries read into the state stores. */
  entries: number;
  /** The changelog offset they reflect (-1: none, read the changelog from its start). */
  checkpoint: number;
}

export class LocalStateStore {
  private readonly prefix: string;
  private readonly entryPrefix: string;
  private readonly checkpointKey: string;

  /** The part of `db` that holds one task's state (several tasks share one database). */
  constructor(
    readonly db: Store,
    readonly task = 0,
  ) {
    this.prefix = taskPrefix(task);
    this.entryPrefix = `${this.prefix}e\u0000`;
    this.checkpointKey = `${this.prefix}c`;
  }

  /** The changelog offset the entries reflect, -1 when the store is empty. */
  async checkpoint(): Promise<number> {
    const raw = await this.db.get(this.checkpointKey);
    return raw === undefined ? -1 : Number(raw);
  }

  /** Loads every entry into `stores` (as restored changes, not new ones). */
  async load(stores: StateStores): Promise<LocalLoad> {
    const checkpoint = await this.checkpoint();
    let entries = 0;
    for await (const [key, value] of this.db.iterator({
      gt: this.entryPrefix,
      lt: `${this.prefix}e\u0001`,
    })) {
      const rest = String(key).slice(this.entryPrefix.length);
      const i = rest.indexOf('\u0000');
      if (i < 0) throw new Error(`local state store holds a malformed key '${String(key)}'`);
      stores.restore({ store: rest.slice(0, i), key: rest.slice(i + 1), value: JSON.parse(String(value)) });
      entries++;
    }
    return { entries, checkpoint };
  }

  /** Applies changes that the changelog holds up to `changelogOffset`, with the checkpoint, atomically. */
  async commit(changes: readonly StateChange[], changelogOffset: number): Promise<void> {
    for (let from = 0; from < changes.length || from === 0; from += WRITE_BATCH_MAX) {
      const slice = changes.slice(from, from + WRITE_BATCH_MAX);
      const ops = slice.map((c) =>
        c.value === undefined
          ? { type: 'del' as const, key: `${this.entryPrefix}${c.store}\u0000${c.key}` }
          : {
              type: 'put' as const,
              key: `${this.entryPrefix}${c.store}\u0000${c.key}`,
              value: JSON.stringify(c.value),
            },
      );
      // The checkpoint rides with the last slice: a crash between slices leaves it at the
      // previous batch, and the changelog tail redoes these changes (they are idempotent puts).
      const last = from + WRITE_BATCH_MAX >= changes.length;
      if (last) ops.push({ type: 'put', key: this.checkpointKey, value: String(changelogOffset) });
      await this.db.batch(ops);
      if (last) break;
    }
  }

  /** Forgets this task's state (the changelog no longer matches: it was deleted or truncated). */
  async wipe(): Promise<void> {
    await this.db.clear({ gte: this.prefix, lt: `t${this.task}\u0001` });
  }
}
