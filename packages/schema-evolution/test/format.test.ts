// FORMAT.md §4's annotated dumps are fixtures: the bytes each codec writes for the book's
// record must equal the documented ones byte for byte, and decode back to the record, so the
// codecs and the document cannot drift apart together.
import { readFileSync } from 'node:fs';
import { hex } from '@ddia/testkit';
import { describe, expect, it } from 'vitest';
import { BOOK_BYTES, BOOK_RECORD, type FormatName } from '../src/encodings/book-record.js';
import { codec } from '../src/encodings/codecs.js';

const doc = readFileSync(new URL('../FORMAT.md', import.meta.url), 'utf8');

/** The hex column of the dump under `### <heading>`: "offset  bytes  kind  description" lines. */
function dump(heading: string): string {
  const section = doc.split(`### ${heading}`)[1];
  const block = section && /```\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error(`FORMAT.md has no dump under ### ${heading}`);
  return block
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const m = /^\s*\d+ {2}((?:[0-9a-f]{2} )*[0-9a-f]{2}) {2,}/.exec(line);
      if (!m) throw new Error(`not a dump line: ${line}`);
      return m[1]!;
    })
    .join(' ');
}

const dumps: [FormatName, string][] = [
  ['thrift-compact', 'Thrift CompactProtocol'],
  ['protobuf', 'Protocol Buffers'],
  ['avro', 'Avro'],
];

describe('FORMAT.md §4 dumps, byte for byte', () => {
  it.each(dumps)('%s', (format, heading) => {
    const documented = dump(`${heading} (${BOOK_BYTES[format]} bytes)`);
    expect(hex(codec(format).encode(BOOK_RECORD))).toBe(documented);
    expect(codec(format).decode(Buffer.from(documented.replaceAll(' ', ''), 'hex'))).toEqual(BOOK_RECORD);
  });
});
