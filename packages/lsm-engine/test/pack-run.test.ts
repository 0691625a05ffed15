import { describe, expect, it } from 'vitest';
import { type InternalIterator, KIND_DELETE, KIND_PUT } from '../src/internal-key.js';
import { Memtable } from '../src/memtable.js';
import { PackedRunIterator, packMemtable, packRun } from '../src/table-writer.js';

/** Every entry of an iterator, as `key@seq/kind=value`. */
function listAll(it: InternalIterator): string[] {
  const out: string[] = [];
  for (it.seekToFirst(); it.valid(); it.next())
    out.push(`${it.key()}@${it.seq()}/${it.kind()}=${it.value()}`);
  return out;
}

describe('packRun: a frozen memtable packed for a flush worker', () => {
  it('packs every entry in internal-key order and lets the event loop run meanwhile', async () => {
    const table = new Memtable();
    for (let seq = 1; seq <= 5_000; seq++) {
      const key = Buffer.from(`k${(seq * 7919) % 700}`);
      const kind = seq % 11 === 0 ? KIND_DELETE : KIND_PUT;
      table.add(key, seq, kind, kind === KIND_PUT ? Buffer.from(`v${seq}`) : Buffer.alloc(0));
    }
    const expected = listAll(table.iterator());

    // Turns of the event loop taken by other work while the pack runs.
    let turns = 0;
    let packing = true;
    const tick = () => {
      if (!packing) return;
      turns++;
      setImmediate(tick);
    };
    setImmediate(tick);
    const run = await packRun(table.iterator(), { bytesHint: table.bytes, entriesPerTurn: 100 });
    packing = false;
    // 5,000 entries at 100 a turn: the pack yields some 50 times (one call would take none).
    expect(turns).toBeGreaterThanOrEqual(40);

    expect(listAll(new PackedRunIterator(run))).toEqual(expected);
  });

  it('leaves out the versions no reader can see, keeping what the oldest snapshot needs', async () => {
    const table = new Memtable();
    for (let seq = 1; seq <= 3_000; seq++) {
      const key = Buffer.from(`k${(seq * 31) % 40}`);
      const kind = seq % 13 === 0 ? KIND_DELETE : KIND_PUT;
      table.add(key, seq, kind, kind === KIND_PUT ? Buffer.from(`v${seq}`) : Buffer.alloc(0));
    }
    for (const smallestSnapshot of [3_000, 1_500, 10]) {
      // The table job's rule (writeTables): drop an entry when the newer entry of its key just
      // before it is at or below the smallest snapshot.
      const expected: string[] = [];
      let lastKey = '';
      let lastSeqForKey = Number.POSITIVE_INFINITY;
      for (const line of listAll(table.iterator())) {
        const [key, rest] = line.split('@') as [string, string];
        const seq = Number(rest.split('/')[0]);
        if (key !== lastKey) {
          lastKey = key;
          lastSeqForKey = Number.POSITIVE_INFINITY;
        }
        if (lastSeqForKey > smallestSnapshot) expected.push(line);
        lastSeqForKey = seq;
      }
      const run = await packRun(table.iterator(), { bytesHint: table.bytes, smallestSnapshot });
      expect(listAll(new PackedRunIterator(run))).toEqual(expected);
    }
    // With no snapshot older than the last write, one version per key is left (tombstones too).
    const latest = await packRun(table.iterator(), { bytesHint: table.bytes, smallestSnapshot: 3_000 });
    expect(listAll(new PackedRunIterator(latest))).toHaveLength(40);
  });

  it('packMemtable copies the same bytes from the arena as packRun from the iterator', async () => {
    const table = new Memtable(10);
    // Values long and short (the arena copy loops under 33 bytes), across arena chunks.
    for (let seq = 1; seq <= 4_000; seq++) {
      const key = Buffer.from(`key-${(seq * 7919) % 1_300}`);
      const kind = seq % 17 === 0 ? KIND_DELETE : KIND_PUT;
      const value =
        kind === KIND_PUT ? Buffer.alloc(seq % 5 === 0 ? 700 : seq % 40, seq & 0xff) : Buffer.alloc(0);
      table.add(key, seq, kind, value);
    }
    for (const smallestSnapshot of [undefined, 4_000, 2_000, 5]) {
      const expected = await packRun(table.iterator(), { bytesHint: table.bytes, smallestSnapshot });
      for (const entriesPerTurn of [1, 333, 100_000]) {
        const run = await packMemtable(table, { smallestSnapshot, entriesPerTurn });
        expect(Buffer.from(run).equals(Buffer.from(expected))).toBe(true);
      }
    }
    const latest = await packMemtable(table, { smallestSnapshot: 4_000 });
    expect(listAll(new PackedRunIterator(latest))).toHaveLength(1_300);
  });
});
