// The RaftStorage contract, as one suite every implementation runs (abstract-level's style:
// `storageConformance(name, factory)` is called from each implementation's test file). What
// a save made durable comes back from load after a restart, whatever the medium.
import { describe, expect, it } from 'vitest';
import type { Entry, RaftStorage } from '../../src/index.js';

export interface StorageFactory {
  /** A fresh, empty storage. */
  open(): Promise<RaftStorage>;
  /** The same storage after a restart (`previous` is closed first by the suite). */
  reopen(previous: RaftStorage): Promise<RaftStorage>;
  /** Called after each test to free what `open` took (a directory, say). */
  cleanup?(): Promise<void>;
}

const e = (index: number, term: number, text = `e${index}`): Entry => ({
  index,
  term,
  type: 'normal',
  data: new TextEncoder().encode(text),
});
const conf = { members: [{ id: 'n1', voter: true }] };

export function storageConformance(name: string, factory: StorageFactory): void {
  const restart = async (s: RaftStorage): Promise<RaftStorage> => {
    await s.close();
    return factory.reopen(s);
  };
  const withStorage = (body: (s: RaftStorage) => Promise<RaftStorage>) => async () => {
    const s = await factory.open();
    try {
      await (await body(s)).close();
    } finally {
      await factory.cleanup?.();
    }
  };

  describe(`RaftStorage conformance: ${name}`, () => {
    it(
      'a fresh storage loads as empty (null)',
      withStorage(async (s) => {
        expect(await s.load()).toBeNull();
        return s;
      }),
    );

    it(
      'restart recovers term, vote, commit and entries byte for byte',
      withStorage(async (s) => {
        await s.save({
          snapshot: null,
          entries: [
            e(1, 1),
            e(2, 1),
            { index: 3, term: 2, type: 'normal', data: new Uint8Array([0, 255, 7]) },
          ],
          hardState: { term: 2, vote: 'n2', commit: 2 },
        });
        const r = await restart(s);
        const state = await r.load();
        expect(state?.hardState).toEqual({ term: 2, vote: 'n2', commit: 2 });
        expect(state?.entries.map((x) => [x.index, x.term, x.type])).toEqual([
          [1, 1, 'normal'],
          [2, 1, 'normal'],
          [3, 2, 'normal'],
        ]);
        expect(new TextDecoder().decode(state?.entries[0]?.data)).toBe('e1');
        expect([...(state?.entries[2]?.data ?? [])]).toEqual([0, 255, 7]);
        return r;
      }),
    );

    it(
      'a save without a hard state keeps the previous one',
      withStorage(async (s) => {
        await s.save({ snapshot: null, entries: [e(1, 1)], hardState: { term: 1, vote: 'n1', commit: 0 } });
        await s.save({ snapshot: null, entries: [e(2, 1)], hardState: null });
        const r = await restart(s);
        const state = await r.load();
        expect(state?.hardState).toEqual({ term: 1, vote: 'n1', commit: 0 });
        expect(state?.entries.map((x) => x.index)).toEqual([1, 2]);
        return r;
      }),
    );

    it(
      'a conflicting suffix from a new leader replaces the old one',
      withStorage(async (s) => {
        await s.save({
          snapshot: null,
          entries: [e(1, 1), e(2, 1), e(3, 1), e(4, 1)],
          hardState: { term: 1, vote: null, commit: 1 },
        });
        await s.save({
          snapshot: null,
          entries: [e(3, 3, 'new3')],
          hardState: { term: 3, vote: null, commit: 1 },
        });
        const r = await restart(s);
        const state = await r.load();
        expect(state?.entries.map((x) => `${x.index}/${x.term}`)).toEqual(['1/1', '2/1', '3/3']);
        expect(new TextDecoder().decode(state?.entries[2]?.data)).toBe('new3');
        return r;
      }),
    );

    it(
      'an application snapshot compacts: restart returns the snapshot and only later entries',
      withStorage(async (s) => {
        const entries = Array.from({ length: 20 }, (_, i) => e(i + 1, 1));
        await s.save({ snapshot: null, entries, hardState: { term: 1, vote: 'n1', commit: 20 } });
        await s.saveSnapshot({
          meta: { index: 15, term: 1, conf },
          data: new TextEncoder().encode('state@15'),
        });
        const r = await restart(s);
        const state = await r.load();
        expect(state?.snapshot?.meta).toEqual({ index: 15, term: 1, conf });
        expect(new TextDecoder().decode(state?.snapshot?.data)).toBe('state@15');
        expect(state?.entries.map((x) => x.index)).toEqual([16, 17, 18, 19, 20]);
        return r;
      }),
    );

    it(
      "a leader's snapshot replaces a log that does not contain its last entry",
      withStorage(async (s) => {
        await s.save({
          snapshot: null,
          entries: [e(1, 1), e(2, 1), e(3, 1)],
          hardState: { term: 1, vote: null, commit: 1 },
        });
        await s.save({
          snapshot: { meta: { index: 10, term: 4, conf }, data: new Uint8Array([1, 2, 3]) },
          entries: [e(11, 4)],
          hardState: { term: 4, vote: null, commit: 10 },
        });
        const r = await restart(s);
        const state = await r.load();
        expect(state?.snapshot?.meta.index).toBe(10);
        expect([...(state?.snapshot?.data ?? [])]).toEqual([1, 2, 3]);
        expect(state?.entries.map((x) => `${x.index}/${x.term}`)).toEqual(['11/4']);
        expect(state?.hardState.term).toBe(4);
        return r;
      }),
    );

    it(
      "a leader's snapshot that the log continues keeps the entries after it (Figure 13, rule 6)",
      withStorage(async (s) => {
        await s.save({
          snapshot: null,
          entries: [e(1, 1), e(2, 1), e(3, 1), e(4, 1)],
          hardState: { term: 1, vote: null, commit: 1 },
        });
        await s.save({
          snapshot: { meta: { index: 2, term: 1, conf }, data: new Uint8Array([9]) },
          entries: [],
          hardState: { term: 1, vote: null, commit: 2 },
        });
        const r = await restart(s);
        const state = await r.load();
        expect(state?.snapshot?.meta.index).toBe(2);
        expect(state?.entries.map((x) => x.index)).toEqual([3, 4]);
        return r;
      }),
    );
  });
}
