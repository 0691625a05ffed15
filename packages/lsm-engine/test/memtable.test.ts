// The arena memtable against a sorted array of the same entries: iteration both ways, seeks
// and gets agree, across arena chunks and node-array growth, and the caller's buffers are
// copied (changing them afterwards changes nothing).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ARENA_CHUNK_BYTES } from '../src/arena.js';
import { compareInternal, KIND_DELETE, KIND_PUT, SEQ_AFTER_ALL } from '../src/internal-key.js';
import { Memtable } from '../src/memtable.js';

interface Model {
  key: Buffer;
  seq: number;
  kind: number;
  value: Buffer;
}

const show = (e: { key: Buffer; seq: number; kind: number; value: Buffer }) =>
  `${e.key.toString('hex')}@${e.seq}/${e.kind}=${e.value.length}:${e.value.subarray(0, 8).toString('hex')}`;

function forward(table: Memtable): string[] {
  const out: string[] = [];
  const it = table.iterator();
  for (it.seekToFirst(); it.valid(); it.next())
    out.push(show({ key: it.key(), seq: it.seq(), kind: it.kind(), value: it.value() }));
  return out;
}

function backward(table: Memtable): string[] {
  const out: string[] = [];
  const it = table.iterator();
  for (it.seekToLast(); it.valid(); it.prev())
    out.push(show({ key: it.key(), seq: it.seq(), kind: it.kind(), value: it.value() }));
  return out;
}

const entry = fc.record({
  key: fc.uint8Array({ minLength: 0, maxLength: 6 }).map((a) => Buffer.from(a)),
  kind: fc.constantFrom(KIND_PUT, KIND_DELETE),
  valueBytes: fc.oneof(fc.nat(40), fc.constant(0), fc.integer({ min: 1000, max: 70_000 })),
});

describe('Memtable (arena skiplist)', () => {
  it('iterates, seeks and gets as a sorted array of the same entries does', () => {
    fc.assert(
      fc.property(
        fc.array(entry, { maxLength: 300 }),
        fc.array(fc.uint8Array({ maxLength: 6 }), { maxLength: 20 }),
        fc.nat(40),
        (entries, probes, run) => {
          // Ascending runs of `run` keys (as a batch of sorted keys or clear()'s tombstones
          // arrive) take the insert's splice path; random order mostly does not.
          if (run > 1)
            for (let i = 0; i < entries.length; i += run)
              entries.splice(
                i,
                run,
                ...entries.slice(i, i + run).sort((a, b) => Buffer.compare(a.key, b.key)),
              );
          const table = new Memtable();
          const model: Model[] = [];
          entries.forEach((e, i) => {
            const seq = i + 1;
            const value = e.kind === KIND_PUT ? Buffer.alloc(e.valueBytes, seq % 251) : Buffer.alloc(0);
            table.add(Buffer.from(e.key), seq, e.kind, Buffer.from(value));
            model.push({ key: e.key, seq, kind: e.kind, value });
          });
          model.sort((a, b) => compareInternal(a.key, a.seq, b.key, b.seq));
          expect(table.entries).toBe(model.length);
          expect(forward(table)).toEqual(model.map(show));
          expect(backward(table)).toEqual(model.map(show).reverse());

          const last = entries.length;
          for (const raw of probes) {
            const probe = Buffer.from(raw);
            for (const seq of [SEQ_AFTER_ALL, 0, Math.floor(last / 2), last]) {
              const at = model.find((m) => compareInternal(m.key, m.seq, probe, seq) >= 0);
              const it = table.iterator();
              it.seek(probe, seq);
              expect(it.valid()).toBe(at !== undefined);
              if (at)
                expect(show({ key: it.key(), seq: it.seq(), kind: it.kind(), value: it.value() })).toBe(
                  show(at),
                );
            }
            const newest = model.find((m) => m.key.equals(probe) && m.seq <= last);
            const got = table.get(probe, last);
            if (newest === undefined) expect(got.found).toBe(false);
            else
              expect(got).toEqual({ found: true, deleted: newest.kind === KIND_DELETE, value: newest.value });
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('spans arena chunks and gives a large value a chunk of its own', () => {
    const table = new Memtable();
    const big = Buffer.alloc(ARENA_CHUNK_BYTES / 2, 7);
    let seq = 0;
    for (let i = 0; i < 5_000; i++)
      table.add(Buffer.from(`k${i % 977}`), ++seq, KIND_PUT, Buffer.alloc(500, i % 256));
    table.add(Buffer.from('big'), ++seq, KIND_PUT, big);
    for (let i = 0; i < 100; i++) table.add(Buffer.from(`z${i}`), ++seq, KIND_PUT, Buffer.alloc(300, 9));
    const got = table.get(Buffer.from('big'), seq);
    expect(got).toEqual({ found: true, deleted: false, value: big });
    // The newest version of k5 is the last of i = 5 + 977n below 5,000.
    const newestI = 5 + 977 * Math.floor((4_999 - 5) / 977);
    expect(table.get(Buffer.from('k5'), seq)).toEqual({
      found: true,
      deleted: false,
      value: Buffer.alloc(500, newestI % 256),
    });
    expect(forward(table).length).toBe(5_101);
  });

  it('keeps its own copy of the key and value it was given', () => {
    const table = new Memtable();
    const key = Buffer.from('key');
    const value = Buffer.from('value');
    table.add(key, 1, KIND_PUT, value);
    key.fill(0);
    value.fill(0);
    expect(table.get(Buffer.from('key'), 1)).toEqual({
      found: true,
      deleted: false,
      value: Buffer.from('value'),
    });
  });
});
