import { checkLinearizable, createKvModel, type HistoryEvent } from '@ddia/testkit';
import { describe, expect, it } from 'vitest';
import { staleReadCanary } from './support/canary.js';

const op = (process: number, f: 'put' | 'get', key: string, value: string | null, fromMs: number) => [
  { process, type: 'invoke' as const, f, key, value: f === 'put' ? value : null, timeMs: fromMs },
  { process, type: 'ok' as const, f, key, value, timeMs: fromMs + 1 },
];
const rejected = (history: HistoryEvent[]) =>
  checkLinearizable(history, createKvModel({ initialValue: null })).verdict === 'not-linearizable';

describe("the Jepsen runs' stale-read canary", () => {
  it('is built from a real overwrite where the run has one', () => {
    const history = [
      ...op(1, 'put', 'k', 'a', 0),
      ...op(2, 'put', 'k', 'b', 5),
      ...op(1, 'get', 'k', 'b', 10),
    ];
    expect(rejected(history)).toBe(false);
    const canary = staleReadCanary(history);
    expect(canary.find((e) => e.process === 999_999 && e.type === 'ok')).toMatchObject({
      f: 'get',
      value: 'a',
    });
    expect(rejected(canary)).toBe(true);
  });

  it('is constructed, never skipped, where the run overwrote nothing', () => {
    const history = [
      ...op(1, 'put', 'k1', 'a', 0),
      ...op(2, 'put', 'k2', 'b', 5),
      ...op(1, 'get', 'k1', 'a', 10),
    ];
    expect(rejected(history)).toBe(false);
    const canary = staleReadCanary(history);
    expect(canary.some((e) => e.value === 'canary-overwrite')).toBe(true);
    expect(rejected(canary)).toBe(true);
  });

  it('refuses a run with no acknowledged put', () => {
    expect(() => staleReadCanary(op(1, 'get', 'k', null, 0))).toThrow(/no put/);
  });
});
