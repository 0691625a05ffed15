// abstract-level's own compliance suite (the same one memory-level and classic-level run),
// driven through tape inside vitest. Prints "abstract-level suite: N passed, N failed".
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tape from 'tape';
import { afterAll, describe, expect, it } from 'vitest';
import { LsmLevel } from '../src/index.js';

const require = createRequire(import.meta.url);
const suite = require('abstract-level/test') as (options: {
  test: unknown;
  factory: (o?: object) => unknown;
}) => void;

const root = mkdtempSync(join(tmpdir(), 'lsm-compliance-'));
let counter = 0;

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('abstract-level compliance suite', () => {
  it('passes every assertion', async () => {
    const runner = tape.createHarness();
    const failures: string[] = [];
    let passed = 0;
    let failed = 0;
    const stream = runner.createStream({ objectMode: true });
    const done = new Promise<void>((resolve) => {
      let currentTest = '';
      stream.on('data', (row: { type: string; name?: string; ok?: boolean; id?: number }) => {
        if (row.type === 'test') currentTest = row.name ?? '';
        if (row.type === 'assert') {
          if (row.ok) passed++;
          else {
            failed++;
            if (failures.length < 30) failures.push(`${currentTest} :: ${row.name}`);
          }
        }
      });
      stream.on('end', () => resolve());
    });
    suite({
      test: runner,
      // Small buffers so that the suite also exercises flushes to tables.
      factory: (options?: object) =>
        new LsmLevel(join(root, `db-${counter++}`), { writeBufferBytes: 64 * 1024, ...(options ?? {}) }),
    });
    await done;
    console.log(`abstract-level suite: ${passed} passed, ${failed} failed`);
    if (failures.length > 0) console.log(failures.join('\n'));
    expect(passed).toBeGreaterThan(1000);
    expect(failed).toBe(0);
  }, 300_000);
});
