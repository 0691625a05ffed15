// 6.5840's crash test, with real signals: while a word count runs, workers are killed
// (SIGKILL, then started again as new workers) and hung (SIGSTOP for longer than a lease, then
// SIGCONT) at random. The output must be identical to the sequential run, and to a clean run.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SeededRandom } from '@ddia/common/core';
import type { Cluster } from '@ddia/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { runSequential } from '../src/sequential.js';
import { api, BUILT, FIXTURES, type Json, readOutput, startBatchCluster } from './support/batch-cluster.js';
import { writeBooks } from './support/corpus.js';

const SEED = Number(process.env.DDIA_SEED ?? Date.now() % 100_000);
const LEASE_MS = 1_500;
const FAULT_EVERY_MS = 600;
const JOB_DEADLINE_MS = 150_000;
/**
 * Faults stop after this many, so that on a heavily loaded machine (where one task can take
 * longer than the gap between faults) the job is not livelocked by endless re-execution.
 */
const FAULTS_MAX = 15;

let cluster: Cluster | undefined;
let dir: string | undefined;
afterAll(async () => {
  await cluster?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!BUILT)('crash test (SIGKILL and SIGSTOP at random)', () => {
  it(`word count output is identical to the sequential run (seed ${SEED})`, async () => {
    const random = new SeededRandom(SEED);
    dir = await mkdtemp(join(tmpdir(), 'ddia-batch-crash-'));
    const books = join(dir, 'books');
    await writeBooks(books, 4, 2_000, SEED);
    cluster = await startBatchCluster({ workers: 3, leaseMs: LEASE_MS, backupAfterMs: 3_000 });
    const base = cluster.node('coord').url;
    const output = join(dir, 'out');
    const submitted = await api(base, '/jobs', {
      job: join(FIXTURES, 'slow-wordcount.mjs'),
      inputs: [{ path: books }],
      output,
      reduces: 3,
      splitBytes: 24 * 1024,
    });
    expect(submitted.status).toBe(201);
    const faults: string[] = [];
    const deadline = Date.now() + JOB_DEADLINE_MS;
    let job: Json;
    for (;;) {
      job = (await api(base, `/jobs/${submitted.json.id}`)).json;
      if (job.status === 'succeeded' || job.status === 'failed') break;
      if (Date.now() > deadline)
        throw new Error(`seed ${SEED}: job still ${job.status}; faults: ${faults.join(', ')}`);
      const workers = cluster.nodes.filter((n) => n.id !== 'coord');
      const victim = random.pick(workers);
      if (
        faults.length < FAULTS_MAX &&
        victim.state === 'running' &&
        workers.filter((w) => w.state === 'running').length > 1
      ) {
        if (random.chance(0.5)) {
          faults.push(`kill ${victim.id}`);
          await victim.kill();
          // A new worker process on the same port (its map output is gone with the old one).
          void victim.start().catch(() => {});
        } else {
          faults.push(`stop ${victim.id}`);
          victim.pause();
          const wake = victim;
          setTimeout(() => wake.resume(), LEASE_MS + random.int(200, 1_200));
        }
      }
      await new Promise((r) => setTimeout(r, FAULT_EVERY_MS));
    }
    for (const node of cluster.nodes) if (node.state === 'paused') node.resume();
    expect(job.error, `seed ${SEED}`).toBeNull();
    expect(job.status).toBe('succeeded');
    expect(faults.length).toBeGreaterThan(0);
    const expected = await runSequential(join(FIXTURES, 'slow-wordcount.mjs'), [
      { path: books, format: 'text' },
    ]);
    const { lines, files } = await readOutput(output);
    expect(files).toContain('_SUCCESS');
    console.log(
      `crash test seed ${SEED}: ${faults.length} faults (${faults.join(', ')}), ${job.counters.taskAttempts} attempts for ${job.counters.mapTasks + job.counters.reduceTasks} tasks`,
    );
    expect([...lines].sort(), `seed ${SEED}, faults: ${faults.join(', ')}`).toEqual([...expected].sort());
  }, 240_000);
});
