// The split reader parses records in batches as a map task asks for them (readSplitBatches):
// every line is counted where it is in the split, across batch boundaries, with CRLF line ends,
// quoted CSV fields and malformed lines named by their line index.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planSplits, type Split } from '../src/core/splits.js';
import { BATCH_RECORDS, MalformedRecordError, readSplit, readSplitBatches } from '../src/input.js';

const ROWS = 2 * BATCH_RECORDS + 100;
const BAD_ROW = BATCH_RECORDS + 7;
let dir: string;
let file: string;
let lines: string[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ddia-batch-input-'));
  file = join(dir, 'rows.csv');
  lines = ['id,key,amount'];
  for (let i = 0; i < ROWS; i++) {
    if (i === BAD_ROW) lines.push('x,"unbalanced,1');
    else if (i % 1000 === 3) lines.push(`${i},"k, ""quoted""",${i}`);
    else if (i % 1000 === 5) lines.push('');
    else lines.push(`${i},k${i % 17},${i * 3}`);
  }
  await writeFile(file, `${lines.join('\r\n')}\r\n`);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const split = (): Split => ({ index: 0, path: file, input: 'in', format: 'csv', start: 0, end: 1e9 });

describe('split reader', () => {
  it('yields CSV rows in batches, each keeping the line index it started on', async () => {
    const batches: number[] = [];
    const rows: [unknown, number][] = [];
    for await (const batch of readSplitBatches(split(), 'pass')) {
      batches.push(batch.records.length);
      batch.records.forEach((r, i) => {
        rows.push([r, batch.lineIndexes[i]!]);
      });
    }
    expect(batches.length).toBe(3);
    expect(Math.max(...batches)).toBe(BATCH_RECORDS);
    const empty = lines.filter((l, i) => i > 0 && l === '').length;
    expect(rows.length).toBe(ROWS - empty);
    for (const [record, lineIndex] of rows) {
      const i = lineIndex - 1; // line 0 is the header
      if (i === BAD_ROW) {
        expect(record).toEqual({ $malformed: 'not CSV (unbalanced quotes)', $raw: 'x,"unbalanced,1' });
      } else if (i % 1000 === 3) {
        expect(record).toEqual({ id: String(i), key: 'k, "quoted"', amount: String(i) });
      } else {
        expect(record).toEqual({ id: String(i), key: `k${i % 17}`, amount: String(i * 3) });
      }
    }
  });

  it("a malformed line fails the split with its line index when onMalformed is 'fail'", async () => {
    const failure = await readSplit(split(), 'fail').catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(MalformedRecordError);
    expect((failure as MalformedRecordError).lineIndex).toBe(BAD_ROW + 1);
  });

  it('text lines lose their CR and keep empty lines; a split that starts mid-line skips it', async () => {
    const text = join(dir, 'lines.txt');
    await writeFile(text, 'alpha\r\n\r\nbeta\ngamma');
    const whole = await readSplit({ ...split(), path: text, format: 'text' }, 'fail');
    expect(whole.records).toEqual(['alpha', '', 'beta', 'gamma']);
    expect(whole.lineIndexes).toEqual([0, 1, 2, 3]);
    const tail = await readSplit({ ...split(), path: text, format: 'text', start: 2 }, 'fail');
    expect(tail).toEqual({ from: 7, records: ['', 'beta', 'gamma'], lineIndexes: [0, 1, 2] });
  });

  it('a CSV header is data: odd names become keys, a repeated name keeps its last value, __proto__ sets nothing', async () => {
    const csv = join(dir, 'header.csv');
    await writeFile(csv, 'id,"a""b\\c }; throw 1; //",__proto__,id\n1,x,y,2\n');
    const { records } = await readSplit({ ...split(), path: csv }, 'fail');
    const row = records[0] as Record<string, string>;
    expect(row).toEqual({ id: '2', 'a"b\\c }; throw 1; //': 'x' });
    expect(Object.getPrototypeOf(row)).toBe(Object.prototype);
  });

  it('splits of any size read every line exactly once, lines longer than a read chunk included', async () => {
    const long = 'w'.repeat(150_000); // longer than the 64 KiB chunks a split's edges are found with
    const cases: [string[], number[]][] = [
      [
        ['', 'a', 'bb', '', 'ccc', 'é€😀', 'd'],
        [1, 2, 3, 5, 8, 100],
      ],
      [
        ['a', long, 'bb', '', `${long}x`, 'ccc'],
        [4099, 64 * 1024, 150_001, 150_003, 300_005, 400_000],
      ],
    ];
    for (const [i, [want, sizes]] of cases.entries()) {
      const text = join(dir, `mixed-${i}.txt`);
      const body = `${want.join('\n')}\n`;
      await writeFile(text, body);
      const file = { path: text, bytes: Buffer.byteLength(body), input: 'in', format: 'text' as const };
      for (const splitBytes of sizes) {
        const got: string[] = [];
        for (const s of planSplits([file], splitBytes))
          got.push(...((await readSplit(s, 'fail')).records as string[]));
        expect(got, `split size ${splitBytes}`).toEqual(want);
      }
    }
  });
});
