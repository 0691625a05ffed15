// Skewed joins with sampled hot keys (DDIA ch. 10, "Handling skew"; Pig's skewed join): the
// planner samples the map output, finds the key that would overload one reducer, and the join
// spreads that key's events over several reducers (copying its user record to each). Shown on
// the reducers' own counters: the most loaded reducer's input shrinks, and the rows equal the
// unskewed join's. Runs through the local runner; joins.it.test.ts shows it on real processes.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SeededRandom } from '@ddia/common/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findHotKeys } from '../src/core/skew.js';
import { runLocal } from '../src/local-run.js';
import { BUILT, DIST_JOBS, readOutput } from './support/batch-cluster.js';

const EVENTS = 12_000;
const USERS = 300;
const REDUCES = 4;

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ddia-batch-skew-'));
  const random = new SeededRandom(11);
  await mkdir(join(dir, 'users'));
  await mkdir(join(dir, 'events'));
  const users = Array.from({ length: USERS }, (_, i) => `u${i},19${random.int(40, 99)}-01-01`);
  await writeFile(join(dir, 'users', 'users.csv'), `user_id,date_of_birth\n${users.join('\n')}\n`);
  // 40% of the events belong to u7, the celebrity.
  const events = Array.from({ length: EVENTS }, (_, i) =>
    JSON.stringify({
      user_id: random.chance(0.4) ? 'u7' : `u${random.int(0, USERS - 1)}`,
      url: `/p/${random.int(0, 20)}`,
      ts: i,
    }),
  );
  await writeFile(join(dir, 'events', 'events.jsonl'), `${events.join('\n')}\n`);
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('findHotKeys', () => {
  it('a key over half a fair share is hot, spread over reducers in proportion to its share', () => {
    const sample = [
      ...Array(40).fill('hot'),
      ...Array(10).fill('warm'),
      ...Array.from({ length: 50 }, (_, i) => `k${i}`),
    ];
    // R = 4: fair share 25%; hot has 40% → ceil(0.4·4/0.5) = 4 reducers; warm 10% < 12.5% stays.
    expect(findHotKeys(sample, 4)).toEqual({ hot: 4 });
    expect(findHotKeys(sample, 8)).toEqual({ hot: 7, warm: 2 });
    expect(findHotKeys(sample, 1)).toEqual({});
    // Too few samples of a key to trust its share.
    expect(findHotKeys(['a', 'a', 'b'], 4)).toEqual({});
  });
});

describe.skipIf(!BUILT)('skewed sort-merge join with sampled hot keys', () => {
  it('spreads the hot key over the reducers: the most loaded reducer gets far less, same rows', async () => {
    const inputs = [
      { path: join(dir, 'users'), name: 'users' },
      { path: join(dir, 'events'), name: 'events' },
    ];
    const common = {
      job: join(DIST_JOBS, 'join-sort-merge.js'),
      inputs,
      reduces: REDUCES,
      splitBytes: 64 * 1024,
    };
    const plain = await runLocal({ ...common, output: join(dir, 'plain') });
    const skewed = await runLocal({ ...common, output: join(dir, 'sampled'), params: { skew: 'sample' } });
    expect(plain.hotKeys).toEqual({ u7: 4 }); // the planner always samples; only skew=sample acts on it
    expect(skewed.hotKeys).toEqual({ u7: 4 });

    const load = (r: typeof plain) => r.reduceCounters.map((c) => c.reduceInputRecords!);
    const total = EVENTS + USERS;
    const plainMax = Math.max(...load(plain));
    const skewedMax = Math.max(...load(skewed));
    // Without skew handling one reducer gets u7's 40% on top of its quarter of the rest.
    expect(plainMax).toBeGreaterThan(0.45 * total);
    // With it every reducer is near a fair quarter (u7's user row is copied 4 times: +3 records).
    expect(skewedMax).toBeLessThan(0.35 * total);
    expect(load(skewed).reduce((a, b) => a + b, 0)).toBe(total + 3);

    const rows = async (name: string) => (await readOutput(join(dir, name))).lines.sort();
    expect(await rows('sampled')).toEqual(await rows('plain'));
    expect((await rows('plain')).length).toBe(EVENTS);
  });
});
