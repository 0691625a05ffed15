// The byte-level CSV reader (src/csv.ts) against csv-parse, the library the row path used to
// parse quoted lines with: for generated files (quoted fields holding commas, quotes and line
// breaks, empty fields, CRLF or LF, with or without a BOM and a last line break) every record
// has the same fields, starting on the line it should. Then the reader a map task uses: a
// job's declared columns give the whole row's fields, typed, split by split; integers are
// what Number() makes of a field; malformed lines are named and skipped as a line reader would.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planSplits } from '../src/core/splits.js';
import { CsvCursor, INTERNED_MAX, Interner, RECORD_BYTES_MAX } from '../src/csv.js';
import { readSplit } from '../src/input.js';

const RUNS = Number(process.env.DDIA_RUNS ?? 200);
const BOM = '\uFEFF';

/** A field's text: the characters that trip CSV parsers, and plain ones. */
const field = fc.string({
  unit: fc.constantFrom('a', 'b', 'é', '日', ' ', ',', '"', '\n', '\r\n', '1', '-'),
  maxLength: 6,
});

/** A file: records of at least two fields (a one-field blank record is a blank line to a reader). */
const file = fc.record({
  records: fc.array(fc.array(field, { minLength: 2, maxLength: 4 }), { minLength: 1, maxLength: 25 }),
  quoteAll: fc.array(fc.boolean(), { minLength: 100, maxLength: 100 }),
  crlf: fc.boolean(),
  bom: fc.boolean(),
  lastBreak: fc.boolean(),
});

type CsvFile = typeof file extends fc.Arbitrary<infer T> ? T : never;

function quoted(text: string, force: boolean): string {
  return force || /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The file's text and the line each record starts on. */
function render({ records, quoteAll, crlf, bom, lastBreak }: CsvFile) {
  const lineBreak = crlf ? '\r\n' : '\n';
  const lines = records.map((fields, r) =>
    fields.map((f, i) => quoted(f, quoteAll[(r * 4 + i) % 100]!)).join(','),
  );
  const starts: number[] = [];
  let line = 0;
  for (const text of lines) {
    starts.push(line);
    line += 1 + (text.match(/\n/g)?.length ?? 0);
  }
  return { text: (bom ? BOM : '') + lines.join(lineBreak) + (lastBreak ? lineBreak : ''), starts };
}

function cursorRecords(bytes: Buffer): { fields: string[][]; lines: number[]; interned: string[][] } {
  const cursor = new CsvCursor(bytes);
  const interner = new Interner();
  const fields: string[][] = [];
  const interned: string[][] = [];
  const lines: number[] = [];
  for (let step = cursor.next(); step !== 'end'; step = cursor.next()) {
    expect(step).toBe('record');
    fields.push(Array.from({ length: cursor.count }, (_, i) => cursor.string(i)));
    interned.push(Array.from({ length: cursor.count }, (_, i) => interner.field(cursor, i)));
    lines.push(cursor.lineIndex);
  }
  return { fields, lines, interned };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ddia-batch-csv-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('CsvCursor', () => {
  it('reads the fields csv-parse reads: quotes, commas and line breaks in fields, empty fields, CRLF, BOM', () => {
    fc.assert(
      fc.property(file, (f) => {
        const { text, starts } = render(f);
        const want = parse(text, { bom: true, relax_column_count: true }) as string[][];
        const got = cursorRecords(Buffer.from(text, 'utf8'));
        expect(got.fields).toEqual(want);
        expect(got.interned).toEqual(want);
        expect(got.lines).toEqual(starts);
      }),
      { numRuns: RUNS },
    );
  });

  it('parses integers as Number() does, in place for plain digits', () => {
    const text = fc.oneof(
      fc.integer().map(String),
      fc.bigInt({ min: -(2n ** 60n), max: 2n ** 60n }).map(String),
      fc.constantFrom('', '-0', '+5', ' 12', '12 ', '1e3', '0x10', '1.0', '1.5', 'abc', '-', '+', '0012'),
      fc.string({ unit: fc.constantFrom('0', '1', '9', '-', '+', '.', 'e', ' '), maxLength: 18 }),
    );
    fc.assert(
      fc.property(text, (value) => {
        const cursor = new CsvCursor(Buffer.from(`${value},x\n`));
        expect(cursor.next()).toBe('record');
        const n = Number(value);
        expect(cursor.integer(0)).toBe(value === '' ? null : Number.isSafeInteger(n) ? n : undefined);
      }),
      { numRuns: RUNS },
    );
  });

  it('a malformed line is named as a line and reading goes on at the next line', () => {
    const text = [
      'a,"unbalanced,1', // its quote never closes on its line nor further
      'b,2',
      'c,"x"y', // text after a closing quote
      'd,x"y', // a quote inside an unquoted field
      '"e',
      'f",3', // a quote that closes on the next line: one record of two lines
      '',
      '   ',
      'g,4',
    ].join('\n');
    const cursor = new CsvCursor(Buffer.from(text));
    const seen: string[] = [];
    for (let step = cursor.next(); step !== 'end'; step = cursor.next()) {
      const what =
        step === 'record' ? Array.from({ length: cursor.count }, (_, i) => cursor.string(i)).join('|') : '';
      seen.push(
        `${cursor.lineIndex} ${step} ${step === 'malformed' ? `${cursor.firstLine()}: ${cursor.reason}` : what}`,
      );
    }
    expect(seen).toEqual([
      '0 malformed a,"unbalanced,1: not CSV (unbalanced quotes)',
      '1 record b|2',
      '2 malformed c,"x"y: not CSV (text after a closing quote)',
      '3 malformed d,x"y: not CSV (a quote inside an unquoted field)',
      '4 record e\nf|3',
      '6 blank ',
      '7 blank ',
      '8 record g|4',
    ]);
  });

  it('a quote left open does not swallow more than RECORD_BYTES_MAX', () => {
    const text = `"open,1\n${'x,2\n'.repeat(RECORD_BYTES_MAX / 4)}"y",3\n`;
    const cursor = new CsvCursor(Buffer.from(text));
    expect(cursor.next()).toBe('malformed');
    expect(cursor.next()).toBe('record');
    expect([cursor.lineIndex, cursor.string(0), cursor.string(1)]).toEqual([1, 'x', '2']);
  });

  it('interns up to INTERNED_MAX strings, then decodes afresh with the same values', () => {
    const keys = Array.from({ length: INTERNED_MAX + 10 }, (_, i) => `k${i}`);
    const cursor = new CsvCursor(Buffer.from(`${keys.join('\n')}\n${keys.join('\n')}\n`));
    const interner = new Interner();
    const got: string[] = [];
    while (cursor.next() === 'record') got.push(interner.field(cursor, 0));
    expect(got).toEqual([...keys, ...keys]);
  });
});

describe('declared columns (the typed row path)', () => {
  it('equal the whole rows projected and typed, over any split size', async () => {
    const row = fc.tuple(field, fc.integer({ min: -1e9, max: 1e9 }), field);
    await fc.assert(
      fc.asyncProperty(
        fc.array(row, { minLength: 1, maxLength: 40 }),
        fc.boolean(),
        fc.integer({ min: 8, max: 400 }),
        async (rows, crlf, splitBytes) => {
          // Line breaks inside fields only where the file is one split: splits are cut at line
          // breaks (README, limits).
          const flat = rows.map(
            ([a, n, b]) => [a.replace(/[\r\n]/g, ''), n, b.replace(/[\r\n]/g, '')] as const,
          );
          const lineBreak = crlf ? '\r\n' : '\n';
          const text = `id,amount,key${lineBreak}${flat.map(([a, n, b]) => `${quoted(a, false)},${n},${quoted(b, false)}`).join(lineBreak)}${lineBreak}`;
          const path = join(dir, 'rows.csv');
          await writeFile(path, text);
          const files = [{ path, bytes: Buffer.byteLength(text), input: 'in', format: 'csv' as const }];
          const whole: unknown[] = [];
          const typed: unknown[] = [];
          for (const split of planSplits(files, splitBytes)) {
            whole.push(...(await readSplit(split, 'fail')).records);
            typed.push(...(await readSplit(split, 'fail', { key: 'string', amount: 'integer' })).records);
          }
          expect(whole).toEqual(flat.map(([id, n, key]) => ({ id, amount: String(n), key })));
          expect(typed).toEqual(flat.map(([, amount, key]) => ({ key, amount })));
        },
      ),
      { numRuns: Math.ceil(RUNS / 4) },
    );
  });

  it('a field that is not of its type makes the row malformed, naming the column and the line', async () => {
    const path = join(dir, 'typed.csv');
    await writeFile(path, 'key,amount\r\na,1\r\nb,\r\nc,twelve\r\nd,1e3\r\n');
    const split = { index: 0, path, input: 'in', format: 'csv' as const, start: 0, end: 1e9 };
    const columns = { key: 'string', amount: 'integer' } as const;
    const { records, lineIndexes } = await readSplit(split, 'pass', columns);
    expect(records).toEqual([
      { key: 'a', amount: 1 },
      { key: 'b', amount: null },
      { $malformed: "column 'amount': 'twelve' is not an integer", $raw: 'c,twelve' },
      { key: 'd', amount: 1000 },
    ]);
    expect(lineIndexes).toEqual([1, 2, 3, 4]);
    await expect(readSplit(split, 'fail', columns)).rejects.toMatchObject({ lineIndex: 3 });
    await expect(readSplit(split, 'fail', { nope: 'string' })).rejects.toThrow(
      "the CSV header has no column 'nope'",
    );
  });
});
