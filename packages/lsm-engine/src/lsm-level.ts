// LsmLevel: the engine behind abstract-level's interface, so every service can use it
// through `openStore({ engine: 'lsm' })`. abstract-level does argument checking, encodings,
// deferred open, sublevels, hooks and events; we implement the _underscore methods with
// Buffers in and Buffers out (the manifest declares `buffer` as our only store encoding).
import {
  AbstractIterator,
  type AbstractIteratorOptions,
  AbstractLevel,
  type AbstractOpenOptions,
  AbstractSnapshot,
} from 'abstract-level';
import { LsmDb, type LsmStats } from './db.js';
import type { DbIterator } from './db-iterator.js';
import { EngineFailedError } from './errors.js';
import { compareKeys, KIND_DELETE, KIND_PUT } from './internal-key.js';
import { LSM_DEFAULTS, type LsmOptions } from './options.js';
import { encodeOperations, type LevelOperation } from './wal.js';

/** Constructor options: abstract-level's encodings plus the engine's own (see options.ts). */
export interface LsmLevelOptions extends Partial<Omit<LsmOptions, 'createIfMissing' | 'errorIfExists'>> {
  keyEncoding?: string;
  valueEncoding?: string;
}

/**
 * The engine's own constructor options: every key of LsmOptions except the two that
 * abstract-level's open() passes itself (they reach the engine through _open).
 */
const OPEN_OPTION_NAMES: ReadonlySet<string> = new Set(['createIfMissing', 'errorIfExists']);
const ENGINE_OPTION_NAMES: ReadonlySet<string> = new Set(
  Object.keys(LSM_DEFAULTS).filter((name) => !OPEN_OPTION_NAMES.has(name)),
);
/**
 * What abstract-level may rely on. `getSync` is in abstract-level 3.1's manifest but not yet
 * in level-supports' typings, hence a plain object rather than a checked literal.
 */
const MANIFEST = {
  encodings: { buffer: true },
  seek: true,
  has: true,
  getSync: true,
  implicitSnapshots: true,
  explicitSnapshots: true,
  permanence: true,
  createIfMissing: true,
  errorIfExists: true,
  additionalMethods: { compact: true, flush: true, stats: true },
};
/** Keys deleted per batch by clear(). */
const CLEAR_BATCH_KEYS = 1000;
const EMPTY = Buffer.alloc(0);

type Bounds = { gt?: Buffer; gte?: Buffer; lt?: Buffer; lte?: Buffer };

// biome-ignore lint/suspicious/noExplicitAny: abstract-level's value type is open by design.
export class LsmLevel extends AbstractLevel<Buffer | Uint8Array | string, any, any> {
  readonly location: string;
  private engine: LsmDb | null = null;
  private readonly engineOptions: Partial<LsmOptions>;

  constructor(location: string, options: LsmLevelOptions = {}) {
    const engineOptions: Record<string, unknown> = {};
    const forward: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(options ?? {})) {
      if (ENGINE_OPTION_NAMES.has(k)) engineOptions[k] = v;
      else forward[k] = v;
    }
    super(MANIFEST, forward);
    if (typeof location !== 'string' || location === '') {
      throw new TypeError("The first argument 'location' must be a non-empty string");
    }
    this.location = location;
    this.engineOptions = engineOptions as Partial<LsmOptions>;
  }

  /** The engine; throws when the database is not open. */
  get lsm(): LsmDb {
    if (this.engine === null) throw new EngineFailedError('the database is not open');
    return this.engine;
  }

  async _open(options: AbstractOpenOptions): Promise<void> {
    this.engine = await LsmDb.open(this.location, {
      ...this.engineOptions,
      createIfMissing: options.createIfMissing !== false,
      errorIfExists: options.errorIfExists === true,
    });
  }

  async _close(): Promise<void> {
    const engine = this.engine;
    this.engine = null;
    await engine?.close();
  }

  async _get(key: Buffer, options: { snapshot?: LsmSnapshot }): Promise<Buffer | undefined> {
    return this.lsm.get(key, options.snapshot?.seq);
  }

  async _getMany(keys: Buffer[], options: { snapshot?: LsmSnapshot }): Promise<(Buffer | undefined)[]> {
    const engine = this.lsm;
    const seq = options.snapshot?.seq ?? engine.lastSeq;
    return keys.map((k) => engine.get(k, seq));
  }

  _getSync(key: Buffer, options: { snapshot?: LsmSnapshot }): Buffer | undefined {
    return this.lsm.get(key, options.snapshot?.seq);
  }

  async _has(key: Buffer, options: { snapshot?: LsmSnapshot }): Promise<boolean> {
    return this.lsm.has(key, options.snapshot?.seq);
  }

  async _hasMany(keys: Buffer[], options: { snapshot?: LsmSnapshot }): Promise<boolean[]> {
    const engine = this.lsm;
    const seq = options.snapshot?.seq ?? engine.lastSeq;
    return keys.map((k) => engine.has(k, seq));
  }

  async _put(key: Buffer, value: Buffer, options: { sync?: boolean }): Promise<void> {
    await this.lsm.write([{ kind: KIND_PUT, key, value }], options.sync === true);
  }

  async _del(key: Buffer, options: { sync?: boolean }): Promise<void> {
    await this.lsm.write([{ kind: KIND_DELETE, key, value: EMPTY }], options.sync === true);
  }

  async _batch(operations: LevelOperation[], options: { sync?: boolean }): Promise<void> {
    // In key order, the memtable inserts each key next to the one before it (its splice)
    // instead of searching from the top: random keys cost about a third less to insert. The
    // sort is stable, so a key written twice keeps its later write last (the higher sequence
    // number); the batch is applied and seen as a whole, so no reader can tell the order.
    const ordered = operations.length > 1 ? operations.slice().sort(byKey) : operations;
    // Encoded once, straight into the batch's WAL record: no object per operation.
    const { record, userBytes } = encodeOperations(ordered);
    await this.lsm.writeRecord(record, operations.length, userBytes, options.sync === true);
  }

  async _clear(
    options: Bounds & { reverse?: boolean; limit?: number; snapshot?: LsmSnapshot },
  ): Promise<void> {
    const engine = this.lsm;
    const it = engine.iterator({
      reverse: options.reverse === true,
      seq: options.snapshot?.seq,
      bounds: pickBounds(options),
      fillCache: false,
      values: false,
    });
    const limit =
      typeof options.limit === 'number' && options.limit >= 0 ? options.limit : Number.POSITIVE_INFINITY;
    let count = 0;
    try {
      for (;;) {
        const ops: LevelOperation[] = [];
        while (ops.length < CLEAR_BATCH_KEYS && count < limit) {
          const entry = it.next();
          if (entry === undefined) break;
          ops.push({ type: 'del', key: entry[0] });
          count++;
        }
        if (ops.length === 0) break;
        const { record, userBytes } = encodeOperations(ops);
        await engine.writeRecord(record, ops.length, userBytes, false);
        if (ops.length < CLEAR_BATCH_KEYS) break;
      }
    } finally {
      it.close();
    }
  }

  _iterator(options: AbstractIteratorOptions<Buffer, Buffer> & { snapshot?: LsmSnapshot }): LsmIterator {
    return new LsmIterator(this, options, this.lsm);
  }

  _snapshot(options: { owner: unknown }): LsmSnapshot {
    return new LsmSnapshot(options, this.lsm);
  }

  /** Merges every table into one sorted run (a major compaction). */
  async compact(): Promise<void> {
    await this.lsm.compactAll();
  }

  /** Writes the memtable out as a table. */
  async flush(): Promise<void> {
    await this.lsm.flush();
  }

  stats(): LsmStats {
    return this.lsm.stats();
  }
}

class LsmSnapshot extends AbstractSnapshot {
  readonly seq: number;
  constructor(
    options: { owner: unknown },
    private readonly engine: LsmDb,
  ) {
    // The typings omit the constructor's options; the runtime needs { owner }.
    super(...([options] as unknown as []));
    this.seq = engine.snapshot();
  }

  async _close(): Promise<void> {
    this.engine.releaseSnapshot(this.seq);
  }
}

// biome-ignore lint/suspicious/noExplicitAny: abstract-level's iterator generics.
class LsmIterator extends AbstractIterator<any, Buffer, Buffer> {
  private readonly it: DbIterator;

  constructor(
    db: LsmLevel,
    options: AbstractIteratorOptions<Buffer, Buffer> & { snapshot?: LsmSnapshot },
    engine: LsmDb,
  ) {
    super(db, options);
    this.it = engine.iterator({
      reverse: options.reverse === true,
      seq: options.snapshot?.seq,
      bounds: pickBounds(options as Bounds),
      fillCache: (options as { fillCache?: boolean }).fillCache !== false,
      // db.keys() and { values: false } discard the values: do not copy them out.
      values: (options as { values?: boolean }).values !== false,
    });
  }

  async _next(): Promise<[Buffer, Buffer] | undefined> {
    return this.it.next();
  }

  // Both fill one array from the engine's synchronous iterator: one promise per call, none
  // per entry (abstract-level's defaults would loop over _next()).
  async _nextv(size: number): Promise<[Buffer, Buffer][]> {
    return this.take(size);
  }

  async _all(): Promise<[Buffer, Buffer][]> {
    return this.take(this.limit - this.count);
  }

  private take(size: number): [Buffer, Buffer][] {
    const out: [Buffer, Buffer][] = [];
    while (out.length < size) {
      const entry = this.it.next();
      if (entry === undefined) break;
      out.push(entry);
    }
    return out;
  }

  _seek(target: Buffer): void {
    this.it.seek(target);
  }

  async _close(): Promise<void> {
    this.it.close();
  }
}

function byKey(a: LevelOperation, b: LevelOperation): number {
  return compareKeys(a.key, b.key);
}

function pickBounds(options: Bounds): Bounds {
  // gte wins over gt and lte over lt when both are given (abstract-level's rule).
  const b: Bounds = {};
  if (options.gte !== undefined && options.gte !== null) b.gte = options.gte;
  else if (options.gt !== undefined && options.gt !== null) b.gt = options.gt;
  if (options.lte !== undefined && options.lte !== null) b.lte = options.lte;
  else if (options.lt !== undefined && options.lt !== null) b.lt = options.lt;
  return b;
}
