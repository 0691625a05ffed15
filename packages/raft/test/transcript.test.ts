// Transcript tests in the etcd-io/raft style: test/testdata/*.txt hold commands and the exact
// output each must produce. After changing behaviour on purpose, regenerate them with
//   RAFT_REWRITE=1 npx vitest run --project raft test/transcript.test.ts
// and read the diff: it is the story of what changed.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runTranscript } from '../src/index.js';

const dir = new URL('./testdata/', import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith('.txt'));
const REWRITE = process.env.RAFT_REWRITE === '1';

describe('transcripts', () => {
  it('there are transcripts', () => {
    expect(files.length).toBeGreaterThanOrEqual(3);
  });
  for (const file of files) {
    it(file, () => {
      const path = new URL(file, dir);
      const expected = readFileSync(path, 'utf8');
      const actual = runTranscript(expected);
      if (REWRITE) writeFileSync(path, actual.endsWith('\n') ? actual : `${actual}\n`);
      else expect(actual.trimEnd()).toBe(expected.trimEnd());
    });
  }
});
