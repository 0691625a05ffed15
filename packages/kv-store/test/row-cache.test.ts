import { describe, expect, it } from 'vitest';
import { RowCache } from '../src/store/row-cache.js';

const bytes = (n: number) => new Uint8Array(n);

describe('RowCache', () => {
  it('tells a cached record, a known absence and an unknown key apart', () => {
    const cache = new RowCache(10_000);
    cache.set('a', Uint8Array.of(1, 2));
    cache.set('gone', null);
    expect(cache.get('a')).toEqual(Uint8Array.of(1, 2));
    expect(cache.get('gone')).toBeNull();
    expect(cache.get('never')).toBeUndefined();
  });

  it('stays within its byte budget by evicting the least recently used rows', () => {
    // Each row costs its key, its bytes and a fixed overhead (96): 1 + 100 + 96 = 197 bytes.
    const cache = new RowCache(600);
    cache.set('a', bytes(100));
    cache.set('b', bytes(100));
    cache.set('c', bytes(100));
    expect(cache.size).toBe(3);
    cache.get('a'); // now 'b' is the least recently used
    cache.set('d', bytes(100));
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBeDefined();
    expect(cache.get('c')).toBeDefined();
    expect(cache.get('d')).toBeDefined();
    expect(cache.bytesUsed).toBeLessThanOrEqual(600);
  });

  it('replacing a row charges only the new bytes', () => {
    const cache = new RowCache(1_000);
    cache.set('a', bytes(500));
    cache.set('a', bytes(10));
    expect(cache.bytesUsed).toBe(1 + 10 + 96);
    cache.set('a', null);
    expect(cache.bytesUsed).toBe(1 + 96);
    expect(cache.get('a')).toBeNull();
  });

  it('does not cache a row larger than the whole budget, and forgets the old one', () => {
    const cache = new RowCache(300);
    cache.set('a', bytes(10));
    cache.set('b', bytes(10));
    cache.set('a', bytes(1_000));
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('b')).toBeDefined();
  });

  it('a budget of 0 caches nothing; clear empties it', () => {
    const off = new RowCache(0);
    off.set('a', bytes(1));
    expect(off.get('a')).toBeUndefined();
    const cache = new RowCache(1_000);
    cache.set('a', bytes(1));
    cache.clear();
    expect(cache.get('a')).toBeUndefined();
    expect(cache.bytesUsed).toBe(0);
  });
});
