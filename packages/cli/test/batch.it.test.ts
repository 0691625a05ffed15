// `ddia batch run` as a user types it: the lab's coordinator and one worker started with
// `ddia up`, a word count over three files, the output compared with counts made here.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ddia, labEnv, newHome } from './support/lab-process.js';

// Its own band of ports (lab.it.test.ts uses 10000-19999): 7601 + 20000 and up.
const OFFSET = 20_000 + Math.floor(Math.random() * 4) * 1_000;
const home = newHome();
const env = labEnv(home, OFFSET);

const WORDS = ['log', 'replica', 'leader', 'quorum', 'shuffle', 'partition', 'commit'];

/** Three files of words, and the counts a correct word count must produce. */
function writeInput(dir: string): Map<string, number> {
  mkdirSync(dir, { recursive: true });
  const counts = new Map<string, number>();
  for (let f = 0; f < 3; f++) {
    const lines: string[] = [];
    for (let i = 0; i < 400; i++) {
      const line = [WORDS[(i + f) % WORDS.length]!, WORDS[(i * 3 + f) % WORDS.length]!];
      for (const w of line) counts.set(w, (counts.get(w) ?? 0) + 1);
      lines.push(line.join(' '));
    }
    writeFileSync(join(dir, `book-${f}.txt`), `${lines.join('\n')}\n`);
  }
  return counts;
}

beforeAll(() => {
  for (const service of ['batch', 'batch-worker']) {
    const r = ddia(env, 'up', service);
    if (r.code !== 0) throw new Error(`ddia up ${service} failed: ${r.err}${r.out}`);
  }
}, 120_000);

afterAll(() => {
  ddia(env, 'down');
  rmSync(home, { recursive: true, force: true });
});

describe('ddia batch run', () => {
  it('runs word count on the lab coordinator: a progress bar, a report, and exact counts', () => {
    const input = join(home, 'books');
    const expected = writeInput(input);
    const output = join(home, 'wc');
    const r = ddia(env, 'batch', 'run', 'wordcount', '--input', input, '--output', output, '--reducers', '2');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/job job-\d+: wordcount, \d+ maps, 2 reduces/);
    expect(r.out).toMatch(/map \[#{30}\] (\d+)\/\1 {2}reduce \[#{30}\] 2\/2/);
    expect(r.out).toMatch(/succeeded [\d.]+ s/);
    const parts = readdirSync(output).filter((f) => f.startsWith('part-'));
    expect(parts).toHaveLength(2);
    const got = new Map<string, number>();
    for (const part of parts) {
      for (const line of readFileSync(join(output, part), 'utf8').trim().split('\n')) {
        const [word, count] = line.split('\t');
        got.set(word!, Number(count));
      }
    }
    expect(got).toEqual(expected);
  });

  it('a job that fails exits 1 and says why', () => {
    const r = ddia(env, 'batch', 'run', 'no-such-job', '--input', home, '--output', join(home, 'x'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/refused|no-such-job/);
  });

  it('usage errors exit 2 naming the problem', () => {
    const noInput = ddia(env, 'batch', 'run', 'wordcount', '--output', join(home, 'y'));
    expect(noInput.code).toBe(2);
    expect(noInput.err).toContain('--input');
    const badParam = ddia(env, 'batch', 'run', 'wordcount', '--input', home, '--output', 'o', '--param', 'x');
    expect(badParam.code).toBe(2);
    expect(badParam.err).toContain("'x' is not key=value");
    expect(ddia(env, 'batch', 'walk', 'wordcount').code).toBe(2);
  });

  it('names the missing coordinator and how to start it', () => {
    const away = labEnv(home, OFFSET + 300);
    const r = ddia(away, 'batch', 'run', 'wordcount', '--input', home, '--output', join(home, 'z'));
    expect(r.code).toBe(1);
    expect(r.err).toContain('ddia up batch');
  });
});
