// MIT 6.5840 lab 1's test script, translated: real coordinator and worker processes. Word
// count and indexer equal the sequential run; map and reduce parallelism observed; each map
// task runs once; workers stay up until the job is done; plus grep, the total-order sort, bad
// input (failures name the task and record, and the coordinator keeps serving) and a
// coordinator restart that still reports finished jobs.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cluster } from '@ddia/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBatchJob } from '../src/run-job.js';
import { runSequential } from '../src/sequential.js';
import {
  api,
  BUILT,
  DIST_JOBS,
  FIXTURES,
  readOutput,
  runJob,
  startBatchCluster,
  waitJob,
} from './support/batch-cluster.js';
import { writeBooks } from './support/corpus.js';

let cluster: Cluster;
let base: string;
let dir: string;
let books: string;

beforeAll(async () => {
  if (!BUILT) return;
  dir = await mkdtemp(join(tmpdir(), 'ddia-batch-lab-'));
  books = join(dir, 'books');
  await writeBooks(books, 6, 1_500, 42);
  // Long leases and no speculation: on a busy 2-core machine nothing is re-run by accident,
  // so "each map task runs once" is a fair check.
  cluster = await startBatchCluster({ workers: 2, leaseMs: 20_000, backupAfterMs: 600_000 });
  base = cluster.node('coord').url;
}, 120_000);

afterAll(async () => {
  await cluster?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const sorted = (lines: string[]) => [...lines].sort();

describe.skipIf(!BUILT)('6.5840 lab 1 checks on real processes', () => {
  it('ddia batch run (runBatchJob): the aggregate job with a progress bar and a final report; sums equal a hash map', async () => {
    const input = join(dir, 'sales');
    await mkdir(input, { recursive: true });
    const expected = new Map<string, [number, number]>();
    for (let f = 0; f < 3; f++) {
      const rows = ['id,key,amount'];
      for (let i = 0; i < 2_000; i++) {
        const key = `k${(i * 7 + f) % 37}`;
        const amount = (i * 13 + f) % 1_000;
        rows.push(`${i},${key},${amount}`);
        const [n, sum] = expected.get(key) ?? [0, 0];
        expected.set(key, [n + 1, sum + amount]);
      }
      await writeFile(join(input, `sales-${f}.csv`), `${rows.join('\n')}\n`);
    }
    let printed = '';
    const out = Object.assign(
      new (await import('node:stream')).Writable({
        write(chunk, _enc, done) {
          printed += chunk.toString();
          done();
        },
      }),
      { isTTY: false },
    );
    const output = join(dir, 'agg');
    const record = await runBatchJob({
      coordinator: base,
      job: 'aggregate',
      inputs: [input],
      output,
      reducers: 2,
      out,
      pollMs: 50,
    });
    expect(record.status).toBe('succeeded');
    expect(printed).toMatch(/job job-\d+: aggregate, \d+ maps, 2 reduces/);
    expect(printed).toMatch(/map \[#{30}\] (\d+)\/\1 {2}reduce \[#{30}\] 2\/2/);
    expect(printed).toMatch(/succeeded [\d.]+ s/);
    expect(printed).toContain('mapInputRecords');
    const { lines } = await readOutput(output);
    expect(sorted(lines)).toEqual(sorted([...expected].map(([k, [n, sum]]) => `${k}\t${n},${sum}`)));
    await expect(
      runBatchJob({ coordinator: base, job: 'aggregate', inputs: [input], output, out }),
    ).rejects.toThrow(/refused/);
  });

  it('word count equals the sequential run; _SUCCESS is written; counters add up', async () => {
    const output = join(dir, 'wc');
    const job = await runJob(base, {
      job: 'wordcount',
      inputs: [{ path: books }],
      output,
      reduces: 3,
      splitBytes: 64 * 1024,
    });
    expect(job.error).toBeNull();
    expect(job.status).toBe('succeeded');
    const { lines, files } = await readOutput(output);
    expect(files).toEqual(['_SUCCESS', 'part-00000', 'part-00001', 'part-00002']);
    const expected = await runSequential(join(DIST_JOBS, 'wordcount.js'), [{ path: books, format: 'text' }]);
    expect(expected.length).toBeGreaterThan(100);
    expect(sorted(lines)).toEqual(sorted(expected));
    expect(job.counters.mapInputRecords).toBe(6 * 1_500);
    expect(job.counters.reduceOutputRecords).toBe(expected.length);
    expect(job.counters.shuffleBytes).toBe(job.counters.mapOutputBytes);
    expect(job.counters.mapTasks).toBeGreaterThan(6); // files were cut into several splits
    // Keys within a part are in order (the reduce side merged sorted runs).
    for (const part of ['part-00000', 'part-00001']) {
      const keys = (await readFile(join(output, part), 'utf8'))
        .trim()
        .split('\n')
        .map((l) => l.split('\t')[0]!);
      expect(keys).toEqual(sorted(keys));
    }
  });

  it('indexer equals the sequential run', async () => {
    const output = join(dir, 'index');
    const job = await runJob(base, { job: 'indexer', inputs: [{ path: books }], output, reduces: 2 });
    expect(job.status).toBe('succeeded');
    const expected = await runSequential(join(DIST_JOBS, 'indexer.js'), [{ path: books, format: 'text' }]);
    expect(sorted((await readOutput(output)).lines)).toEqual(sorted(expected));
  });

  it('map and reduce parallelism: two workers run tasks at the same time', async () => {
    const marks = join(dir, 'timing-marks');
    await mkdir(marks);
    const job = await runJob(base, {
      job: join(FIXTURES, 'timing.mjs'),
      inputs: [{ path: books }],
      output: join(dir, 'timing'),
      // Two reduce tasks for two workers: one round of naps is enough to see them overlap.
      reduces: 2,
      params: { dir: marks },
    });
    expect(job.status).toBe('succeeded');
    const spans = await Promise.all(
      (await readdir(marks)).map(async (name) => {
        const [pid, start, end] = (await readFile(join(marks, name), 'utf8')).split(' ').map(Number);
        return { phase: name.split('-')[0]!, pid: pid!, start: start!, end: end! };
      }),
    );
    for (const phase of ['map', 'reduce']) {
      const mine = spans.filter((s) => s.phase === phase);
      const overlapping = mine.some((a) =>
        mine.some((b) => a.pid !== b.pid && a.start < b.end && b.start < a.end),
      );
      expect(overlapping, `${phase} tasks of two workers overlapped: ${JSON.stringify(mine)}`).toBe(true);
    }
  });

  it('each map task runs once when nothing fails; workers stay up until the job is done', async () => {
    const marks = join(dir, 'once-marks');
    await mkdir(marks);
    const job = await runJob(base, {
      job: join(FIXTURES, 'once.mjs'),
      inputs: [{ path: books }],
      output: join(dir, 'once'),
      reduces: 2,
      splitBytes: 32 * 1024,
      speculative: false,
      params: { dir: marks },
    });
    expect(job.status).toBe('succeeded');
    const runs = new Map<string, number>();
    const threads = new Set<string>();
    for (const name of await readdir(marks)) {
      const [, task, pid, thread] = name.split('-');
      runs.set(task!, (runs.get(task!) ?? 0) + 1);
      threads.add(`${pid}/${thread}`);
    }
    expect(runs.size).toBe(job.counters.mapTasks);
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
    // Warm task threads: each worker (one slot) ran all its map tasks of the job on one thread.
    expect(job.counters.mapTasks).toBeGreaterThan(4);
    expect(threads.size).toBeLessThanOrEqual(2);
    const maps = job.tasks.filter((t: { kind: string }) => t.kind === 'map');
    expect(maps.every((t: { attempts: unknown[] }) => t.attempts.length === 1)).toBe(true);
    // The workers are long-running services: both are still up and registered.
    for (const id of ['w1', 'w2']) expect(cluster.node(id).state).toBe('running');
    expect((await api(base, '/workers')).json.workers).toHaveLength(2);
  });

  it('grep counts the matches of a pattern', async () => {
    const output = join(dir, 'grep');
    const job = await runJob(base, {
      job: 'grep',
      inputs: [{ path: books }],
      output,
      reduces: 2,
      params: { pattern: '[a-z]*ven[a-z]*' },
    });
    expect(job.status).toBe('succeeded');
    const expected = await runSequential(join(DIST_JOBS, 'grep.js'), [{ path: books, format: 'text' }], {
      pattern: '[a-z]*ven[a-z]*',
    });
    expect(expected.length).toBeGreaterThan(0);
    expect(sorted((await readOutput(output)).lines)).toEqual(sorted(expected));
  });

  it('sort: a total order across part files from a sampled range partitioner', async () => {
    const output = join(dir, 'sorted');
    const job = await runJob(base, {
      job: 'sort',
      inputs: [{ path: books }],
      output,
      reduces: 3,
      splitBytes: 64 * 1024,
    });
    expect(job.status).toBe('succeeded');
    expect(job.boundaries).toHaveLength(2);
    const { lines } = await readOutput(output); // part-00000, part-00001, part-00002 in order
    const input: string[] = [];
    for (const name of (await readdir(books)).sort()) {
      for (const line of (await readFile(join(books, name), 'utf8')).split('\n').slice(0, -1))
        input.push(`${line}\t`);
    }
    expect(lines.length).toBe(input.length);
    expect(lines.map((l) => l.split('\t')[0])).toEqual(sorted(input).map((l) => l.split('\t')[0]));
    // Every part got a fair share of the records.
    for (const part of ['part-00000', 'part-00001', 'part-00002']) {
      const count = (await readFile(join(output, part), 'utf8')).split('\n').length - 1;
      expect(count).toBeGreaterThan(input.length / 10);
    }
  });
});

describe.skipIf(!BUILT)('bad input fails the job clearly; the coordinator keeps serving', () => {
  it('a map that throws names the task, file and line', async () => {
    const input = join(dir, 'bad-map');
    await mkdir(input);
    await writeFile(join(input, 'a.txt'), 'fine line\nanother fine one\nhere comes boom\nlast\n');
    const job = await runJob(base, {
      job: join(FIXTURES, 'bad.mjs'),
      inputs: [{ path: input }],
      output: join(dir, 'bad-map-out'),
    });
    expect(job.status).toBe('failed');
    expect(job.error).toMatch(
      /^map task 0 .*: map task 0 failed at .*a\.txt line 3: map threw: Error: boom in the map function$/,
    );
    await expect(readdir(join(dir, 'bad-map-out'))).resolves.not.toContain('_SUCCESS');
  });

  it('a reducer that never returns is stopped at its deadline, naming the key', async () => {
    const input = join(dir, 'hang');
    await mkdir(input);
    await writeFile(join(input, 'a.txt'), 'ok fine\nhang ok\n');
    const job = await runJob(base, {
      job: join(FIXTURES, 'bad.mjs'),
      inputs: [{ path: input }],
      output: join(dir, 'hang-out'),
      reduces: 1,
      taskTimeoutMs: 2_000,
    });
    expect(job.status).toBe('failed');
    expect(job.error).toMatch(/reduce task 0 did not finish within 2000 ms; it was at key 'hang'/);
  });

  it('a malformed JSON line fails the job naming the file and line', async () => {
    const input = join(dir, 'json');
    await mkdir(input);
    await writeFile(join(input, 'a.jsonl'), '{"w":"x"}\n{"w":"y"}\n{"w": oops}\n');
    const job = await runJob(base, {
      job: 'wordcount',
      inputs: [{ path: input }],
      output: join(dir, 'json-out'),
    });
    expect(job.status).toBe('failed');
    expect(job.error).toMatch(/a\.jsonl line 3: not JSON/);
  });

  it('unreadable inputs, a module that throws as it loads and a used output are refused at submission', async () => {
    const missing = await api(base, '/jobs', {
      job: 'wordcount',
      inputs: [{ path: join(dir, 'no-such-dir') }],
      output: join(dir, 'x1'),
    });
    expect(missing.status).toBe(400);
    expect(missing.json.code).toBe('DDIA_ERR_BATCH_INPUT');
    expect(missing.json.detail).toMatch(/no-such-dir.*ENOENT/);
    const throws = await api(base, '/jobs', {
      job: join(FIXTURES, 'throws-on-load.mjs'),
      inputs: [{ path: books }],
      output: join(dir, 'x2'),
    });
    expect(throws.status).toBe(400);
    expect(throws.json.code).toBe('DDIA_ERR_BATCH_JOB_MODULE');
    expect(throws.json.detail).toMatch(/fails as it loads/);
    const notAJob = await api(base, '/jobs', {
      job: join(FIXTURES, '../support/corpus.ts'),
      inputs: [{ path: books }],
      output: join(dir, 'x3'),
    });
    expect(notAJob.status).toBe(400);
    const used = await api(base, '/jobs', {
      job: 'wordcount',
      inputs: [{ path: books }],
      output: join(dir, 'wc'),
    });
    expect(used.status).toBe(409);
    expect(used.json.code).toBe('DDIA_ERR_BATCH_OUTPUT_EXISTS');
    const badBody = await api(base, '/jobs', { job: 'wordcount', inputs: [], output: 'x' });
    expect(badBody.status).toBe(400);
    expect((await api(base, '/jobs/job-999999')).status).toBe(404);
  });

  it('after all that, a job still runs; a restarted coordinator reports the finished jobs', async () => {
    const job = await runJob(base, {
      job: 'wordcount',
      inputs: [{ path: books }],
      output: join(dir, 'after'),
    });
    expect(job.status).toBe('succeeded');
    const coord = cluster.node('coord');
    await coord.kill();
    await coord.start();
    const again = await api(base, `/jobs/${job.id}`);
    expect(again.status).toBe(200);
    expect(again.json.status).toBe('succeeded');
    expect(again.json.counters.reduceOutputRecords).toBe(job.counters.reduceOutputRecords);
    const failed = (await api(base, '/jobs')).json.jobs.filter(
      (j: { status: string }) => j.status === 'failed',
    );
    expect(failed.length).toBeGreaterThanOrEqual(3);
    // The workers find the new coordinator by themselves (410: register again) and run jobs.
    const next = await runJob(base, {
      job: 'wordcount',
      inputs: [{ path: books }],
      output: join(dir, 'after-restart'),
    });
    expect(next.status).toBe('succeeded');
    expect(await waitJob(base, next.id)).toMatchObject({ status: 'succeeded' });
    // Two jobs and a coordinator restart: over a minute at load 30 (2026-12-07), a second in CI.
  }, 180_000);
});
