// FORMAT.md's examples are fixtures: the keys the storage layer builds and the order-preserving
// encodings of values must equal the documented bytes, so code and document cannot drift apart.
import { formatFixtures, hex } from '@ddia/testkit';
import { describe, expect, it } from 'vitest';
import { encodeValue } from '../src/core/key-encoding.js';
import { docKey, indexEntryKey, indexPrefix } from '../src/storage/keys.js';

const { fixtureLines } = formatFixtures(new URL('../FORMAT.md', import.meta.url));

describe('FORMAT.md examples, byte for byte', () => {
  it('§1 a document key and an index entry key', () => {
    expect(hex(docKey(3, 7))).toBe(fixtureLines('doc-key').join(' '));
    expect(hex(indexEntryKey(indexPrefix(3, 5), encodeValue('Lisboa'), 7))).toBe(
      fixtureLines('index-key').join(' '),
    );
  });

  it('§2 values as keys: a negative double, an escaped zero byte, a boolean', () => {
    expect([-1.5, 'a\u0000b', true].map((v) => hex(encodeValue(v)))).toEqual(fixtureLines('values'));
  });
});
