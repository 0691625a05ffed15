// The in-memory log's columns against an array of the entries it was given: every entry reads
// back the same (term, type, data) after appends, a conflicting suffix replaced by the leader's,
// compactions, and a restore from a snapshot.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RaftLog } from '../src/core/log.js';
import type { Entry, EntryType } from '../src/core/types.js';

const EMPTY_CONF = { members: [], learners: [] } as unknown as ConstructorParameters<
  typeof RaftLog
>[0]['conf'];
/** A large entry now and then (a 256 KiB value). */
const LARGE_ENTRY_BYTES = 256 * 1024;
const meta = (index: number, term: number) => ({ index, term, conf: EMPTY_CONF });

function entry(index: number, term: number, bytes: number, type: EntryType = 'normal'): Entry {
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) data[i] = (index * 31 + i) % 256;
  return { index, term, type, data };
}

const bytesOf = (a: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** Entries compared field by field (toEqual on large arrays would take minutes here). */
function same(got: Entry | undefined, want: Entry): boolean {
  return (
    got !== undefined &&
    got.index === want.index &&
    got.term === want.term &&
    got.type === want.type &&
    got.data instanceof Uint8Array &&
    !Buffer.isBuffer(got.data) &&
    bytesOf(got.data).equals(bytesOf(want.data))
  );
}

function expectHolds(log: RaftLog, model: Entry[]): void {
  expect(log.firstIndex()).toBe(model[0]?.index ?? log.lastIndex() + 1);
  expect(log.lastIndex()).toBe(model.length ? model[model.length - 1]!.index : log.snapshotMeta.index);
  const wrong = model.filter((e) => !same(log.entry(e.index), e) || log.typeOf(e.index) !== e.type);
  expect(wrong.map((e) => e.index)).toEqual([]);
  if (model.length) {
    const slice = log.slice(model[0]!.index, log.lastIndex() + 1);
    expect(slice.length).toBe(model.length);
    expect(slice.every((e, i) => same(e, model[i]!))).toBe(true);
  }
}

describe('RaftLog columns', () => {
  it('reads back every entry through appends, conflicts and compactions', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({
              op: fc.constant('append' as const),
              n: fc.integer({ min: 1, max: 300 }),
              big: fc.boolean(),
            }),
            fc.record({ op: fc.constant('conflict' as const), back: fc.integer({ min: 1, max: 50 }) }),
            fc.record({
              op: fc.constant('compact' as const),
              share: fc.double({ min: 0, max: 1, noNaN: true }),
            }),
          ),
          { maxLength: 12 },
        ),
        (ops) => {
          const log = new RaftLog(meta(0, 0), [], 0);
          let model: Entry[] = [];
          let term = 1;
          for (const op of ops) {
            if (op.op === 'append') {
              // Mostly small entries; sometimes one large enough for a chunk of its own.
              const batch = Array.from({ length: op.n }, (_, k) =>
                entry(log.lastIndex() + 1 + k, term, op.big && k === 0 ? LARGE_ENTRY_BYTES : 200 + (k % 700)),
              );
              log.appendLocal(batch);
              model.push(...batch);
            } else if (op.op === 'conflict') {
              // The leader of a newer term overwrites the uncommitted suffix.
              const from = Math.max(log.committed + 1, log.lastIndex() - op.back + 1, log.firstIndex());
              if (from > log.lastIndex()) continue;
              term++;
              const theirs = [entry(from, term, 50, 'conf'), entry(from + 1, term, 3000)];
              log.appendFromLeader(from - 1, theirs);
              model = [...model.filter((e) => e.index < from), ...theirs];
            } else {
              const upTo = Math.floor(
                log.snapshotMeta.index + op.share * (log.lastIndex() - log.snapshotMeta.index),
              );
              if (upTo <= log.snapshotMeta.index) continue;
              log.commitTo(upTo);
              log.applied = upTo;
              log.compact(meta(upTo, log.term(upTo) as number));
              model = model.filter((e) => e.index > upTo);
            }
            expectHolds(log, model);
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  it('starts over empty after a snapshot from the leader', () => {
    const log = new RaftLog(meta(0, 0), [entry(1, 1, 10), entry(2, 1, 10)], 0);
    log.restore({ meta: meta(100, 3), data: new Uint8Array(0) });
    expect(log.lastIndex()).toBe(100);
    expect(log.entry(1)).toBeUndefined();
    log.appendLocal([entry(101, 3, 500)]);
    expectHolds(log, [entry(101, 3, 500)]);
  });
});
