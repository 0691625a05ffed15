// The search's typed arrays come from buffers reused between checks (checker/buffer-pool.ts).
// A reused buffer holds the previous check's bytes: these tests dirty the pool with one history
// and then check others, so a table that was not cleared would change a verdict or a prefix.
import { describe, expect, it } from 'vitest';
import { giveBackBuffer, takeBuffer } from '../src/checker/buffer-pool.js';
import { MemoBudget } from '../src/checker/memo-table.js';
import { checkLinearizable, createKvModel, generateKvHistory } from '../src/index.js';

describe('buffer pool', () => {
  it('hands a given-back buffer to the next taker of its size class, and fills what a check takes', () => {
    const first = takeBuffer(100);
    expect(first.byteLength).toBe(128);
    new Uint8Array(first).fill(0xff);
    giveBackBuffer(first);
    const budget = new MemoBudget(1 << 20);
    const ints = budget.int32(30, -1);
    expect(ints.buffer).toBe(first);
    expect([...ints].every((v) => v === -1)).toBe(true);
    budget.release();
    const zeroed = new MemoBudget(1 << 20).uint32(25);
    expect(zeroed.buffer).toBe(first);
    expect([...zeroed].every((v) => v === 0)).toBe(true);
  });

  it('does not keep buffers past its largest size class', () => {
    const big = takeBuffer((1 << 20) + 1);
    giveBackBuffer(big);
    expect(takeBuffer((1 << 20) + 1)).not.toBe(big);
  });

  it('gives the same verdicts and prefixes whatever the previous checks left in the buffers', () => {
    const model = createKvModel();
    const histories = [1, 2, 3, 4, 5, 6].flatMap((seed) =>
      (['stale-read', 'lost-write'] as const).flatMap((fault) => {
        const h = generateKvHistory({ seed, clients: 6, keys: 3, operations: 300 }, fault);
        return h.bad === undefined ? [h.good] : [h.good, h.bad];
      }),
    );
    const first = histories.map((h) => checkLinearizable(h, model));
    // Again in reverse order: each check now starts from buffers another history dirtied.
    const again = [...histories]
      .reverse()
      .map((h) => checkLinearizable(h, model))
      .reverse();
    for (let i = 0; i < histories.length; i++) {
      expect(again[i].verdict).toBe(first[i].verdict);
      expect(again[i].failure?.longestPrefix?.map((op) => op.id)).toEqual(
        first[i].failure?.longestPrefix?.map((op) => op.id),
      );
    }
    expect(first.map((r) => r.verdict)).toContain('not-linearizable');
    expect(first.map((r) => r.verdict)).toContain('linearizable');
  });
});
