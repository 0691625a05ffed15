// The map task's output buffers: the hash table a combiner folds (Spark's map-side combine)
// must drain exactly what sort-then-combine (Hadoop's spill) gives, and give its memory back;
// so must the table a job's aggregator folds into.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Pair } from '../src/core/merge.js';
import type { JobModule } from '../src/job.js';
import { loadJobModule, taskContext } from '../src/job-loader.js';
import { COMBINE_EVERY_VALUES, combineSorted, mapOutputBuffer } from '../src/map-output.js';
import type { Counters } from '../src/task-protocol.js';

const ctx = taskContext(
  { kind: 'map', module: '', jobId: 't', taskIndex: 0, reduces: 2, params: {}, hotKeys: {} },
  'in',
  'in/part-0',
);
const sum = (_key: string, values: string[]) => String(values.reduce((s, v) => s + Number(v), 0));
const withCombiner: JobModule = { map() {}, reduce: sum, combine: sum };
const without: JobModule = { map() {}, reduce: sum };
// The same combiner in incremental form (Spark's combineByKey): folded as each value arrives.
const withAggregator: JobModule = {
  ...withCombiner,
  aggregator: { create: Number, add: (acc, v) => (acc as number) + Number(v), result: String },
};
const counters = (): Counters => ({ combineInputRecords: 0, combineOutputRecords: 0 });

describe('map output buffers', () => {
  it.each([
    ['combine', withCombiner],
    ['aggregator', withAggregator],
  ] as const)(
    'the combining buffer (%s) drains what sort-then-combine gives, sorted by key, and frees its bytes',
    (_name, job) => {
      fc.assert(
        fc.property(
          fc.array(fc.tuple(fc.constantFrom('a', 'b', 'é', 'ab', 'B', 'z'), fc.integer({ min: 0, max: 9 })), {
            maxLength: 400,
          }),
          (emitted) => {
            const c = counters();
            const buffer = mapOutputBuffer(2, job, ctx, c);
            const byPartition: Pair[][] = [[], []];
            for (const [key, n] of emitted) {
              const p = key.length % 2;
              buffer.add(p, key, String(n));
              byPartition[p]!.push([key, String(n)]);
            }
            for (const p of [0, 1]) {
              const expected = combineSorted(
                [...byPartition[p]!].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0)),
                withCombiner,
                ctx,
                counters(),
              );
              expect(buffer.drain(p)).toEqual(expected);
            }
            expect(buffer.bytes).toBe(0);
            expect(c.combineInputRecords).toBe(emitted.length);
            expect(c.combineOutputRecords).toBe(new Set(emitted.map(([k]) => k)).size);
          },
        ),
      );
    },
  );

  it('folds a hot key as its values pile up: memory stays one entry per key', () => {
    const buffer = mapOutputBuffer(1, withCombiner, ctx, counters());
    buffer.add(0, 'hot', '1');
    const oneValue = buffer.bytes;
    for (let i = 1; i < 100 * COMBINE_EVERY_VALUES; i++) buffer.add(0, 'hot', '1');
    expect(buffer.bytes).toBeLessThan(oneValue + COMBINE_EVERY_VALUES * 32);
    expect(buffer.drain(0)).toEqual([['hot', String(100 * COMBINE_EVERY_VALUES)]]);
  });

  it('with an aggregator a key costs the same bytes however many values it folds', () => {
    const buffer = mapOutputBuffer(1, withAggregator, ctx, counters());
    buffer.add(0, 'hot', '1');
    const oneValue = buffer.bytes;
    for (let i = 1; i < 1000; i++) buffer.add(0, 'hot', '2');
    expect(buffer.bytes).toBe(oneValue);
    expect(buffer.drain(0)).toEqual([['hot', String(1 + 2 * 999)]]);
  });

  it('a module with an aggregator and no combine gets the combine it implies; a bad aggregator is refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ddia-batch-agg-'));
    try {
      const good = join(dir, 'good.mjs');
      await writeFile(
        good,
        'export const map = () => {}; export const reduce = () => {};\n' +
          'export const aggregator = { create: (v) => [Number(v)], add: (a, v) => (a.push(Number(v)), a), result: (a) => a.join("+") };\n',
      );
      const job = await loadJobModule(good);
      expect(job.combine!('k', ['1', '2', '3'], ctx)).toBe('1+2+3');
      const bad = join(dir, 'bad.mjs');
      await writeFile(
        bad,
        'export const map = () => {}; export const reduce = () => {}; export const aggregator = { add() {} };\n',
      );
      await expect(loadJobModule(bad)).rejects.toThrow(
        /'aggregator' must be an object with functions create, add, result/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('without a combiner every pair is kept and drained sorted by (key, value)', () => {
    const buffer = mapOutputBuffer(1, without, ctx, counters());
    for (const [k, v] of [
      ['b', '2'],
      ['a', '9'],
      ['b', '1'],
      ['a', '9'],
    ] as const)
      buffer.add(0, k, v);
    expect(buffer.bytes).toBeGreaterThan(0);
    expect(buffer.drain(0)).toEqual([
      ['a', '9'],
      ['a', '9'],
      ['b', '1'],
      ['b', '2'],
    ]);
    expect(buffer.bytes).toBe(0);
  });
});
