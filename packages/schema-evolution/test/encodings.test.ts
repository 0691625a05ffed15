// DDIA Figures 4-1 to 4-4: the example record's size in each format, byte for byte.
import { describe, expect, it } from 'vitest';
import { annotate, bytesByKind } from '../src/encodings/annotate.js';
import { BOOK_BYTES, BOOK_RECORD, FORMATS } from '../src/encodings/book-record.js';
import { CODECS, codec } from '../src/encodings/codecs.js';
import { generatePeople } from '../src/encodings/generate.js';
import { bookTable } from '../src/encodings/report.js';
import { ThriftDecodeError } from '../src/encodings/thrift-codec.js';
import { measureCodec } from '../src/encodings/throughput.js';

describe('the book record in six encodings', () => {
  it.each(FORMATS)('%s has the byte count printed in the book', (format) => {
    const bytes = codec(format).encode(BOOK_RECORD);
    expect(bytes.length).toBe(BOOK_BYTES[format]);
    expect(codec(format).decode(bytes)).toEqual(BOOK_RECORD);
  });

  it('Figure 4-1 MessagePack: map header, then length-prefixed names and values', () => {
    expect(Buffer.from(codec('msgpack').encode(BOOK_RECORD)).subarray(0, 10).toString('hex')).toBe(
      '83a8757365724e616d65',
    );
  });

  it('Figure 4-2/4-3 Thrift: type + 2-byte tag vs one byte for tag delta and type', () => {
    const binary = Buffer.from(codec('thrift-binary').encode(BOOK_RECORD));
    expect(binary.subarray(0, 3).toString('hex')).toBe('0b0001');
    const compact = Buffer.from(codec('thrift-compact').encode(BOOK_RECORD));
    expect(compact[0]).toBe(0x18); // tag delta 1, type 8 (binary)
    expect(compact.subarray(8, 11).toString('hex')).toBe('16f214'); // i64 1337 as zigzag varint
  });

  it('Figure 4-4 Protocol Buffers: repeated field = the tag repeated', () => {
    const spans = annotate('protobuf', codec('protobuf').encode(BOOK_RECORD));
    expect(spans.filter((s) => s.kind === 'tag').map((s) => s.note.split(' ')[2])).toEqual([
      '1',
      '2',
      '3',
      '3',
    ]);
  });

  it('Figure 4-5 Avro: no tags at all, only lengths, a union index and values', () => {
    const kinds = bytesByKind(annotate('avro', codec('avro').encode(BOOK_RECORD)));
    expect(kinds.tag).toBeUndefined();
    expect(kinds.name).toBeUndefined();
    expect(kinds).toEqual({ length: 3, value: 26, union: 1, count: 1, end: 1 });
  });

  it('annotations cover every byte exactly once, in order', () => {
    for (const c of CODECS) {
      const bytes = c.encode(BOOK_RECORD);
      const spans = annotate(c.name, bytes);
      let next = 0;
      for (const s of spans) {
        expect(s.start).toBe(next);
        expect(s.end).toBeGreaterThan(s.start);
        next = s.end;
      }
      expect(next).toBe(bytes.length);
    }
  });

  it('JSON spends 37 of its 81 bytes on field names', () => {
    expect(bytesByKind(annotate('json', codec('json').encode(BOOK_RECORD))).name).toBe(37);
    expect(bookTable().map((r) => r.bytes)).toEqual([81, 66, 59, 34, 33, 32]);
  });

  it('thrift decoding refuses a struct without its required field', () => {
    const stopOnly = Buffer.from([0]);
    expect(() => codec('thrift-binary').decode(stopOnly)).toThrow(ThriftDecodeError);
  });
});

describe('generated records', () => {
  const people = generatePeople(300, 7);
  it('are deterministic from the seed', () => {
    expect(generatePeople(300, 7)).toEqual(people);
    expect(generatePeople(300, 8)).not.toEqual(people);
  });
  it.each(FORMATS)('%s round-trips every generated record (including nulls and 40-bit numbers)', (format) => {
    for (const p of people) expect(codec(format).decode(codec(format).encode(p))).toEqual(p);
  });
  it('the binary schema-driven formats are smaller than JSON; Avro is the smallest', () => {
    const sizes = Object.fromEntries(
      CODECS.map((c) => [c.name, measureCodec(c, people, 5).bytesPerRecordMean]),
    );
    expect(sizes.avro).toBeLessThan(sizes.protobuf);
    expect(sizes.protobuf).toBeLessThan(sizes.msgpack);
    expect(sizes['thrift-compact']).toBeLessThan(sizes['thrift-binary']);
    expect(sizes.msgpack).toBeLessThan(sizes.json);
  });
});
