// Random concurrent list-append workloads checked by testkit's Elle-style checker: what each
// isolation level lets through, over thousands of transactions.
import { SeededRandom, SystemClock } from '@ddia/common';
import { checkTransactions } from '@ddia/testkit';
import { describe, expect, it } from 'vitest';
import type { Isolation } from '../src/engine/transaction.js';
import { runListAppend } from '../src/workload/list-append.js';

const LONG = process.env.DDIA_LONG === '1';
const TRANSACTIONS = LONG ? 20_000 : 2_000;
const SEED = Number(process.env.DDIA_SEED ?? 7);

async function run(isolation: Isolation, transactions = TRANSACTIONS, keys = 6) {
  const result = await runListAppend({
    isolation,
    transactions,
    clients: 8,
    keys,
    opsMax: 4,
    rollbackChance: 0.05,
    random: new SeededRandom(SEED),
    clock: new SystemClock(),
  });
  const check = checkTransactions(result.history as never, { workload: 'list-append' });
  console.log(
    `${isolation}: ${result.committed} committed, ${result.aborted} aborted, anomalies: ${check.anomalyTypes.join(', ') || 'none'} (seed ${SEED})`,
  );
  return { ...result, check };
}

describe(`list-append workload, ${TRANSACTIONS} transactions per level`, {
  timeout: LONG ? 600_000 : 60_000,
}, () => {
  for (const level of ['serializable', 'serializable-2pl', 'serial'] as const) {
    it(`${level}: no anomaly of any kind`, async () => {
      const r = await run(level);
      expect(r.check.anomalies.slice(0, 3)).toEqual([]);
      expect(r.committed).toBeGreaterThan(TRANSACTIONS / 3);
    });
  }

  it('repeatable-read: write skew (G2-item) at most, nothing worse', async () => {
    const r = await run('repeatable-read');
    expect(r.check.anomalyTypes.filter((t) => t !== 'G2-item')).toEqual([]);
    expect(r.check.anomalyTypes).toContain('G2-item');
  });

  it('read-committed: no G0 or G1 (dirty writes, dirty reads)', async () => {
    const r = await run('read-committed');
    expect(r.check.anomalyTypes.filter((t) => /^G0|^G1/.test(t))).toEqual([]);
    expect(r.check.anomalyTypes.length).toBeGreaterThan(0);
  });

  it('canary: read-uncommitted is caught reading aborted and intermediate writes', async () => {
    // The canary needs no long run: dirty reads show up in the first few hundred transactions.
    const r = await run('read-uncommitted', 2_000);
    expect(r.check.anomalyTypes.some((t) => t === 'G1a' || t === 'G1b' || t === 'G1c')).toBe(true);
  });
});
