// The Elle-style checker on seeded histories with known anomalies: a serial (strictly
// serializable) base history of thousands of transactions, with one anomaly injected among
// them. Each anomaly must be found with a minimal cycle (or pair) naming only the injected
// transactions, the consistency-model verdicts must follow Adya's and Elle's tables, and the
// clean history must pass. Seeds are fixed so a failure replays.

import { describe, expect, it } from 'vitest';
import {
  type AnomalyType,
  type ConsistencyModel,
  checkTransactions,
  generateTransactionHistory,
  type InjectedAnomaly,
  parseElleEdn,
} from '../src/index.js';

const BASE_TRANSACTIONS = 5_000;

/** What each injection must produce, and the weakest model it breaks. */
const EXPECTED: Record<InjectedAnomaly, { types: AnomalyType[]; cycle: number; breaks: ConsistencyModel }> = {
  G0: { types: ['G0'], cycle: 2, breaks: 'read-uncommitted' },
  G1a: { types: ['G1a'], cycle: 0, breaks: 'read-committed' },
  G1b: { types: ['G1b'], cycle: 0, breaks: 'read-committed' },
  G1c: { types: ['G1c'], cycle: 2, breaks: 'read-committed' },
  'G-single': { types: ['G-single'], cycle: 2, breaks: 'snapshot-isolation' },
  'lost-update': { types: ['lost-update', 'G-single'], cycle: 2, breaks: 'snapshot-isolation' },
  'G2-item': { types: ['G2-item'], cycle: 2, breaks: 'serializable' },
};
const MODELS: ConsistencyModel[] = [
  'read-uncommitted',
  'read-committed',
  'snapshot-isolation',
  'serializable',
  'strict-serializable',
];

describe.each(['list-append', 'rw-register'] as const)('%s histories', (workload) => {
  it('a serial history of thousands of transactions passes every model, real time included', () => {
    const g = generateTransactionHistory({ seed: 7, transactions: BASE_TRANSACTIONS, workload });
    const result = checkTransactions(g.transactions, { workload, realtime: true });
    expect(result.anomalies).toEqual([]);
    expect(Object.values(result.models)).toEqual([true, true, true, true, true]);
    expect(result.edgeCounts.ww + result.edgeCounts.wr + result.edgeCounts.rw).toBeGreaterThan(
      BASE_TRANSACTIONS,
    );
    expect(g.transactions.some((t) => t.type === 'fail')).toBe(true);
    expect(g.transactions.some((t) => t.type === 'info')).toBe(true);
  });

  const anomalies = (Object.keys(EXPECTED) as InjectedAnomaly[]).filter(
    (a) => workload === 'list-append' || a !== 'G0',
  );
  it.each(anomalies)('finds an injected %s with a minimal explanation', (anomaly) => {
    const seed = 100 + anomalies.indexOf(anomaly);
    const g = generateTransactionHistory({ seed, transactions: BASE_TRANSACTIONS, workload, anomaly });
    const result = checkTransactions(g.transactions, { workload, realtime: true });
    const expected = EXPECTED[anomaly];
    // rw-register cannot order two blind writes, so a lost update there shows as write skew.
    const types =
      workload === 'rw-register' && anomaly === 'lost-update' ? ['lost-update', 'G2-item'] : expected.types;
    expect(result.anomalyTypes, `seed ${seed}`).toEqual(types);
    for (const found of result.anomalies) {
      expect(found.transactions.every((t) => g.injected.includes(t))).toBe(true);
      expect(found.explanation).toMatch(/T\d+/);
      if (found.cycle !== undefined) {
        expect(found.cycle).toHaveLength(expected.cycle);
        // A cycle: each edge ends where the next begins, and names why it exists.
        found.cycle.forEach((edge, i) => {
          expect(edge.to).toBe(found.cycle![(i + 1) % found.cycle!.length].from);
          expect(edge.why.length).toBeGreaterThan(10);
        });
      }
    }
    const broken = MODELS.indexOf(expected.breaks);
    MODELS.forEach((model, i) => {
      expect(result.models[model], model).toBe(i < broken);
    });
  });
});

describe("Elle's EDN history format", () => {
  it('reads :txn operations (integer keys, nil reads, :fail and :info) and finds G1c', () => {
    const text = [
      '{:type :invoke, :f :txn, :value [[:append 1 1] [:r 2 nil]], :time 1000000, :process 0, :index 0}',
      '{:type :invoke, :f :txn, :value [[:append 2 1] [:r 1 nil]], :time 1100000, :process 1, :index 1}',
      '{:type :ok, :f :txn, :value [[:append 1 1] [:r 2 [1]]], :time 2000000, :process 0, :index 2}',
      '{:type :ok, :f :txn, :value [[:append 2 1] [:r 1 [1]]], :time 2100000, :process 1, :index 3}',
      '{:type :invoke, :f :txn, :value [[:append 3 1]], :time 3000000, :process 0, :index 4}',
      '{:type :fail, :f :txn, :value [[:append 3 1]], :time 3100000, :process 0, :index 5, :error :conflict}',
      '{:type :invoke, :f :txn, :value [[:r 3 nil]], :time 4000000, :process 2, :index 6}',
      '{:type :info, :f :txn, :value [[:r 3 nil]], :time 5000000, :process 2, :index 7}',
    ].join('\n');
    const txns = parseElleEdn(text);
    expect(txns.map((t) => [t.type, t.invokeMs, t.completeMs])).toEqual([
      ['ok', 1, 2],
      ['ok', 1.1, 2.1],
      ['fail', 3, 3.1],
      ['info', 4, undefined],
    ]);
    expect(txns[0].ops).toEqual([
      ['append', '1', 1],
      ['r', '2', [1]],
    ]);
    const result = checkTransactions(txns);
    expect(result.anomalyTypes).toEqual(['G1c']);
    expect(result.anomalies[0].explanation).toBe(
      "G1c: T0 -wr-> T1 (T1 read 1 = [1], ending in T0's append); T1 -wr-> T0 (T0 read 2 = [1], ending in T1's append)",
    );
  });

  it('names the line and column of a bad micro-operation, a non-txn op and a dangling completion', () => {
    const bad = (text: string) => {
      try {
        parseElleEdn(text);
      } catch (error) {
        return (error as Error).message;
      }
      return 'parsed';
    };
    expect(
      bad(
        '{:type :invoke, :f :txn, :value [[:append 1 1]], :process 0}\n  {:type :ok, :f :txn, :value [[:cas 1 1 2]], :process 0}',
      ),
    ).toBe(
      'line 2, column 3: expected micro-operation 0 to be [:append k v], [:r k v] or [:w k v], found [":cas",1,1,2]',
    );
    expect(bad('{:type :invoke, :f :read, :value nil, :process 0}')).toContain(
      'line 1, column 1: expected :f :txn',
    );
    expect(bad('{:type :ok, :f :txn, :value [], :process 4}')).toContain('an invocation by process 4');
    expect(bad('{:type :invoke, :f :txn, :value [[:r 1 nil]], :process 0')).toContain("expected '}'");
  });
});

describe('size', () => {
  it('checks 50,000 transactions (about 125,000 micro-operations) in linear time', () => {
    const g = generateTransactionHistory({ seed: 11, transactions: 50_000, anomaly: 'G2-item' });
    const startMs = performance.now();
    const result = checkTransactions(g.transactions, { realtime: true });
    const elapsedMs = performance.now() - startMs;
    console.log(`50,000 transactions, ${g.microOps} micro-ops: checked in ${elapsedMs.toFixed(0)} ms`);
    expect(result.anomalyTypes).toEqual(['G2-item']);
    // About 1.5 s here; the bound is for a loaded shared machine. 1M transactions: see README.
    expect(elapsedMs).toBeLessThan(15_000);
  });
});

describe('ddia check transactions', () => {
  it('exit 1 with the anomaly and the models, exit 2 naming file:line:col on a truncated file', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { runCheckCommand } = await import('../src/index.js');
    const dir = mkdtempSync(`${tmpdir()}/ddia-txn-`);
    const g1c = `${dir}/g1c.edn`;
    writeFileSync(
      g1c,
      [
        '{:type :invoke, :f :txn, :value [[:append 1 1] [:r 2 nil]], :process 0}',
        '{:type :invoke, :f :txn, :value [[:append 2 1] [:r 1 nil]], :process 1}',
        '{:type :ok, :f :txn, :value [[:append 1 1] [:r 2 [1]]], :process 0}',
        '{:type :ok, :f :txn, :value [[:append 2 1] [:r 1 [1]]], :process 1}',
      ].join('\n'),
    );
    const truncated = `${dir}/truncated.edn`;
    writeFileSync(truncated, '{:type :invoke, :f :txn, :value [[:append 1 1]');
    let out = '';
    let err = '';
    const io = { stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) } };
    expect(await runCheckCommand(['transactions', '--verbose', g1c], io)).toBe(1);
    expect(out).toContain(`${g1c}: G1c in 2 transactions`);
    expect(out).toContain('read-uncommitted true, read-committed false');
    expect(out).toMatch(/check \d+ ms, edges .* rss \d+ MB/);
    expect(await runCheckCommand(['transactions', truncated], io)).toBe(2);
    expect(err).toContain(`${truncated}:1:47: expected ']'`);
    expect(await runCheckCommand(['transactions', '--workload', 'bogus', g1c], io)).toBe(2);
  });
});
