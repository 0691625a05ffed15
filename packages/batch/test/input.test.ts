// The split reader parses records in batches as a map task asks for them (readSplitBatches):
// every line is counted where it is in the split, across batch boundaries, with CRLF line ends,
// quoted CSV fields and malformed lines named by their line index.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Split } from '../src/core/splits.js';
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
});
