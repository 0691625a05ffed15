// Lost acknowledged writes: the final reads after healing must show every acknowledged write
// (appends: each element; overwrites: the last acknowledged write or a later/concurrent one).

import { describe, expect, it } from 'vitest';
import { checkLostWrites, HistoryRecorder } from '../src/index.js';

function recorder(): HistoryRecorder {
  let t = 0;
  return new HistoryRecorder({ nowMs: () => t++ });
}

describe('checkLostWrites', () => {
  it('appends: every acknowledged element must be in the final list', () => {
    const r = recorder();
    r.invoke(0, 'append', 1, 'k').ok();
    r.invoke(1, 'append', 2, 'k').ok();
    r.invoke(2, 'append', 3, 'k').info(); // unknown: may be missing
    r.invoke(3, 'append', 4, 'k').fail(); // did not happen
    expect(checkLostWrites(r.events(), { k: [2, 1] }).valid).toBe(true);
    const lost = checkLostWrites(r.events(), { k: [1, 3] });
    expect(lost.valid).toBe(false);
    expect(lost.lost.map((l) => l.expected)).toEqual([2]);
    expect(lost.acknowledgedCount).toBe(2);
  });

  it('string appends (Jepsen kv): each acknowledged suffix appears in the final string', () => {
    const r = recorder();
    r.invoke(0, 'append', 'x 0 0 y', '4').ok();
    r.invoke(1, 'append', 'x 1 0 y', '4').ok();
    expect(checkLostWrites(r.events(), new Map([['4', 'x 1 0 yx 0 0 y']])).valid).toBe(true);
    expect(checkLostWrites(r.events(), new Map([['4', 'x 1 0 y']])).lost).toHaveLength(1);
  });

  it('register: the final value must come from the last acknowledged write or a concurrent one', () => {
    const r = recorder();
    r.invoke(0, 'write', 1).ok();
    r.invoke(0, 'write', 2).ok();
    const concurrent = r.invoke(1, 'write', 3);
    r.invoke(0, 'write', 4).ok();
    concurrent.ok();
    expect(checkLostWrites(r.events(), { '': 4 }).valid).toBe(true);
    expect(checkLostWrites(r.events(), { '': 3 }).valid).toBe(true); // 3 may have landed last
    const result = checkLostWrites(r.events(), { '': 2 }); // failover back to an old value
    expect(result.valid).toBe(false);
    expect(result.lost.map((l) => l.expected).sort()).toEqual([3, 4]);
  });

  it('a write of unknown outcome may explain the final value; a never-written value is unexplained', () => {
    const r = recorder();
    r.invoke(0, 'put', 'a', 'k').ok();
    r.invoke(1, 'put', 'b', 'k').info();
    expect(checkLostWrites(r.events(), { k: 'b' }).valid).toBe(true);
    const result = checkLostWrites(r.events(), { k: 'zzz' });
    expect(result.unexplained).toEqual([{ key: 'k', finalValue: 'zzz' }]);
    expect(result.lost).toHaveLength(1);
  });

  it('cas and delete count as writes; keys without a final read are reported', () => {
    const r = recorder();
    r.invoke(0, 'put', 'a', 'k').ok();
    r.invoke(0, 'cas', ['a', 'b'], 'k').ok();
    r.invoke(0, 'put', 'x', 'gone').ok();
    r.invoke(0, 'delete', null, 'gone').ok();
    r.invoke(0, 'put', 'y', 'unread').ok();
    const result = checkLostWrites(r.events(), { k: 'b', gone: null });
    expect(result.lost).toEqual([]);
    expect(result.unread).toEqual(['unread']);
    expect(result.valid).toBe(false);
    expect(
      checkLostWrites(r.events(), { k: 'a', gone: null, unread: 'y' }).lost.map((l) => l.expected),
    ).toEqual(['b']);
  });
});
