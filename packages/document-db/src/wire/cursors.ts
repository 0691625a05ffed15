// Server-side cursors: a query's results held for getMore, in batches, closed by killCursors,
// exhaustion, or an idle timeout (MongoDB's cursorTimeoutMillis), and bounded in number.
import { BSON, Long } from 'bson';
import { DocErrors, fail } from '../core/errors.js';
import type { Doc } from '../core/values.js';

/** The first batch of a find without batchSize (MongoDB's default). */
export const FIRST_BATCH_DEFAULT = 101;
/** A reply's documents stay under MongoDB's 16 MiB document limit. */
export const BATCH_BYTES_MAX = 16 * 1024 * 1024 - 64 * 1024;
/** Open cursors at most; the least recently used goes first beyond this. */
export const CURSORS_MAX = 10_000;

interface Cursor {
  namespace: string;
  docs: Doc[];
  position: number;
  lastUsedMs: number;
}

export class CursorTable {
  private readonly cursors = new Map<number, Cursor>();
  private nextId = 1;

  constructor(
    private readonly timeoutMs: number,
    private readonly nowMs: () => number,
  ) {}

  get size(): number {
    return this.cursors.size;
  }

  /** The first batch, and a cursor id (0 when everything fit). */
  open(namespace: string, docs: Doc[], batchSize: number | undefined, singleBatch: boolean): Doc {
    const cursor: Cursor = { namespace, docs, position: 0, lastUsedMs: this.nowMs() };
    const batch = this.take(cursor, batchSize ?? FIRST_BATCH_DEFAULT);
    let id = 0;
    if (!singleBatch && cursor.position < docs.length) {
      id = this.nextId++;
      if (this.cursors.size >= CURSORS_MAX) this.cursors.delete(this.cursors.keys().next().value!);
      this.cursors.set(id, cursor);
    }
    return { cursor: { firstBatch: batch, id: Long.fromNumber(id), ns: namespace }, ok: 1 };
  }

  getMore(id: number, namespace: string, batchSize: number | undefined): Doc {
    const cursor = this.cursors.get(id);
    if (!cursor || cursor.namespace !== namespace)
      fail(DocErrors.cursorNotFound, `cursor id ${id} not found`);
    // Most recently used last in the map: the eviction order.
    this.cursors.delete(id);
    cursor.lastUsedMs = this.nowMs();
    const batch = this.take(cursor, batchSize ?? Number.POSITIVE_INFINITY);
    const done = cursor.position >= cursor.docs.length;
    if (!done) this.cursors.set(id, cursor);
    return { cursor: { nextBatch: batch, id: Long.fromNumber(done ? 0 : id), ns: namespace }, ok: 1 };
  }

  kill(ids: number[]): Doc {
    const killed: Long[] = [];
    const notFound: Long[] = [];
    for (const id of ids) (this.cursors.delete(id) ? killed : notFound).push(Long.fromNumber(id));
    return { cursorsKilled: killed, cursorsNotFound: notFound, cursorsAlive: [], cursorsUnknown: [], ok: 1 };
  }

  /** Closes cursors idle longer than the timeout; returns how many. */
  sweep(): number {
    const now = this.nowMs();
    let closed = 0;
    for (const [id, cursor] of this.cursors) {
      if (now - cursor.lastUsedMs >= this.timeoutMs) {
        this.cursors.delete(id);
        closed++;
      }
    }
    return closed;
  }

  private take(cursor: Cursor, batchSize: number): Doc[] {
    const batch: Doc[] = [];
    let bytes = 0;
    const limit = batchSize > 0 ? batchSize : Number.POSITIVE_INFINITY;
    while (cursor.position < cursor.docs.length && batch.length < limit) {
      const doc = cursor.docs[cursor.position]!;
      const size = BSON.calculateObjectSize(doc);
      if (batch.length > 0 && bytes + size > BATCH_BYTES_MAX) break;
      batch.push(doc);
      bytes += size;
      cursor.position++;
    }
    return batch;
  }
}
