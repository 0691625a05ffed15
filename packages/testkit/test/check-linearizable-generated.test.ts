// Histories shaped like Porcupine's largest kv test data (50 clients, get/put/append on 10
// keys, 4,000 events), generated from seeds with known verdicts: the good history comes from a
// correct map, its bad twin has one stale read or one lost write. Each is decided well inside
// the 10 s a user's `ddia check` allows by default.
import { describe, expect, it } from 'vitest';
import { checkLinearizable } from '../src/checker/linearizability.js';
import { createKvModel } from '../src/checker/models/kv.js';
import { generateKvHistory, type KvFault } from '../src/history/generate-kv.js';

// Seed 2's lost write takes the search ~8 s on a loaded 2-core machine: kept out of CI's run.
const CASES: [number, KvFault][] = [
  [1, 'stale-read'],
  [1, 'lost-write'],
  [2, 'stale-read'],
];
const DECIDE_MS_MAX = 10_000;

describe('50-client kv histories with known verdicts', () => {
  for (const [seed, fault] of CASES) {
    it(`seed ${seed}, ${fault}: the good one is linearizable, its bad twin is not`, () => {
      const generated = generateKvHistory({ seed, clients: 50, keys: 10, operations: 2_000 }, fault);
      expect(generated.bad, 'the run offered a place for the fault').toBeDefined();
      const good = checkLinearizable(generated.good, createKvModel(), { timeoutMs: DECIDE_MS_MAX });
      expect(good.verdict, `seed ${seed}`).toBe('linearizable');
      const bad = checkLinearizable(generated.bad!, createKvModel(), { timeoutMs: DECIDE_MS_MAX });
      expect(bad.verdict, `seed ${seed}: ${generated.faultDescription}`).toBe('not-linearizable');
      expect(bad.failure!.longestPrefix!.length).toBeGreaterThan(0);
    });
  }

  it('the memo has a memory bound: past it the verdict is unknown, never a crash', () => {
    const generated = generateKvHistory({ seed: 1, clients: 50, keys: 10, operations: 2_000 });
    const result = checkLinearizable(generated.good, createKvModel(), { memoBytesMax: 64 * 1024 });
    expect(result.verdict).toBe('unknown');
    expect(result.failure!.stoppedBy).toBe('memory');
    expect(result.explanation![0]).toContain('memory bound');
  });
});
