// The checker on histories nobody here produced: Jepsen's etcd register histories and the
// Jepsen kv histories from Porcupine's test data, each with a known verdict.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  casRegisterModel,
  checkLinearizable,
  kvModel,
  parseJepsenEdn,
  parseJepsenLog,
} from '../src/index.js';

const historiesDir = fileURLToPath(new URL('../../../../shared/data/histories/', import.meta.url));
const present = existsSync(`${historiesDir}jepsen-etcd/EXPECTED`);
if (!present) console.warn(`shared data missing at ${historiesDir}: skipping the recorded-history tests`);

/** The budgets; the machine is shared, so these are ceilings, not expectations. */
const FILE_BUDGET_MS = 10_000;
const ETCD_SET_BUDGET_MS = 60_000;

function expectedVerdicts(): [string, boolean][] {
  if (!present) return [];
  return readFileSync(`${historiesDir}jepsen-etcd/EXPECTED`, 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const [file, verdict] = line.trim().split(/\s+/);
      return [file, verdict === 'true'];
    });
}

describe.skipIf(!present)('Jepsen etcd histories (cas-register)', () => {
  const expected = expectedVerdicts();
  const timings: number[] = [];

  it('lists all 50 files with both verdicts represented', () => {
    expect(expected).toHaveLength(50);
    expect(expected.filter(([, ok]) => ok).length).toBeGreaterThan(5);
    expect(expected.filter(([, ok]) => !ok).length).toBeGreaterThan(5);
  });

  it.each(expected)('%s is linearizable: %s', (file, linearizable) => {
    const startMs = performance.now();
    const history = parseJepsenLog(readFileSync(`${historiesDir}jepsen-etcd/${file}`, 'utf8'));
    const result = checkLinearizable(history, casRegisterModel, { timeoutMs: FILE_BUDGET_MS });
    const elapsedMs = performance.now() - startMs;
    timings.push(elapsedMs);
    expect(result.verdict).toBe(linearizable ? 'linearizable' : 'not-linearizable');
    expect(elapsedMs).toBeLessThan(FILE_BUDGET_MS);
    if (!linearizable) {
      // The report names what cannot be ordered: a prefix and the blocked operations.
      expect(result.failure?.blocked?.length).toBeGreaterThan(0);
      expect(result.explanation?.join('\n')).toContain('none of these can come next');
    }
  });

  it('checks the whole set within the budget', () => {
    const totalMs = timings.reduce((a, b) => a + b, 0);
    console.log(
      `etcd set: ${timings.length} files in ${totalMs.toFixed(0)} ms (max ${Math.max(...timings).toFixed(0)} ms)`,
    );
    expect(timings).toHaveLength(50);
    expect(totalMs).toBeLessThan(ETCD_SET_BUDGET_MS);
  });
});

describe.skipIf(!present)('Jepsen kv histories (kv, per key)', () => {
  const files = present ? readdirSync(`${historiesDir}kv`).filter((f) => f.endsWith('.txt')) : [];

  it('has ok and bad files', () => {
    expect(files.filter((f) => f.endsWith('-ok.txt')).length).toBeGreaterThan(0);
    expect(files.filter((f) => f.endsWith('-bad.txt')).length).toBeGreaterThan(0);
  });

  it.each(files)('%s', (file) => {
    const startMs = performance.now();
    const history = parseJepsenEdn(readFileSync(`${historiesDir}kv/${file}`, 'utf8'));
    const result = checkLinearizable(history, kvModel, { timeoutMs: FILE_BUDGET_MS });
    expect(result.verdict).toBe(file.endsWith('-ok.txt') ? 'linearizable' : 'not-linearizable');
    expect(performance.now() - startMs).toBeLessThan(FILE_BUDGET_MS);
    if (result.verdict === 'linearizable') {
      expect(result.partitions.length).toBeGreaterThan(1); // split per key
    } else {
      expect(result.failure?.key).toBeDefined();
    }
  });
});
