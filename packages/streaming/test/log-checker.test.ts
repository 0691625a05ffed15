// The Jepsen log checker (src/core/log-checker.ts) on hand-made histories: it must report each
// kind of violation, else the real-process test (jepsen.it.test.ts) proves nothing.
import { describe, expect, it } from 'vitest';
import { type AppendAttempt, checkLogHistory, type ReadRecord } from '../src/core/log-checker.js';

const ok = (producer: string, seq: number, partition = 0): AppendAttempt => ({
  value: `${producer}-${seq}`,
  producer,
  seq,
  partition,
  outcome: 'ok',
});
const read = (partition: number, offset: number, value: string): ReadRecord => ({ partition, offset, value });

describe('checkLogHistory', () => {
  const attempts = [ok('a', 0), ok('a', 1), ok('b', 0), { ...ok('b', 1), outcome: 'unknown' as const }];

  it('accepts a correct history, with an unknown append present or absent', () => {
    const log = [read(0, 0, 'a-0'), read(0, 1, 'b-0'), read(0, 2, 'a-1')];
    expect(checkLogHistory(attempts, log).valid).toBe(true);
    const withUnknown = checkLogHistory(attempts, [...log, read(0, 3, 'b-1')]);
    expect(withUnknown).toMatchObject({ valid: true, unknownRead: 1, acknowledged: 3 });
  });

  it('reports lost, duplicated, reordered, unexpected values and offset holes', () => {
    expect(checkLogHistory(attempts, [read(0, 0, 'a-0'), read(0, 1, 'b-0')]).lost).toEqual(['a-1']);
    const dup = checkLogHistory(attempts, [
      read(0, 0, 'a-0'),
      read(0, 1, 'b-0'),
      read(0, 2, 'a-1'),
      read(0, 3, 'a-1'),
    ]);
    expect(dup.duplicated).toEqual([{ value: 'a-1', offsets: [2, 3] }]);
    const swapped = checkLogHistory(attempts, [read(0, 0, 'a-1'), read(0, 1, 'b-0'), read(0, 2, 'a-0')]);
    expect(swapped.reordered).toEqual([{ producer: 'a', partition: 0, first: 'a-1', second: 'a-0' }]);
    const invented = checkLogHistory(attempts, [
      read(0, 0, 'a-0'),
      read(0, 1, 'b-0'),
      read(0, 2, 'a-1'),
      read(0, 3, 'zz'),
    ]);
    expect(invented.unexpected).toEqual(['zz']);
    const hole = checkLogHistory(attempts, [read(0, 0, 'a-0'), read(0, 2, 'b-0'), read(0, 3, 'a-1')]);
    expect(hole.offsetErrors).toEqual([
      { partition: 0, expected: 1, got: 2 },
      { partition: 0, expected: 2, got: 3 },
    ]);
  });

  it('lets a live consumer reread after a restart but not skip', () => {
    const log = [read(0, 0, 'a-0'), read(0, 1, 'b-0'), read(0, 2, 'a-1')];
    const reread = new Map([['c', [log[0]!, log[1]!, log[1]!, log[2]!]]]);
    expect(checkLogHistory(attempts, log, reread).valid).toBe(true);
    const skip = checkLogHistory(attempts, log, new Map([['c', [log[0]!, log[2]!]]]));
    expect(skip.skipped).toEqual([{ consumer: 'c', partition: 0, after: 0, got: 2 }]);
  });
});
