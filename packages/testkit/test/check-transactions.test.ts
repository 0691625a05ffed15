// Calibration of the transaction checker: one small hand-built history per Adya anomaly
// (Adya 1999; DDIA ch. 7 names them dirty writes, dirty reads, read skew, write skew), each
// detected, and clean histories reporting none.

import { describe, expect, it } from 'vitest';
import { checkTransactions, type MicroOp, type Transaction, TransactionHistoryError } from '../src/index.js';

let clock = 0;
function txn(
  process: number,
  ops: MicroOp[],
  type: Transaction['type'] = 'ok',
  invokeMs?: number,
): Transaction {
  const start = invokeMs ?? clock;
  clock = start + 10;
  const t: Transaction = { process, type, ops, invokeMs: start };
  if (type !== 'info') t.completeMs = start + 5;
  return t;
}
const append = (k: string, v: unknown): MicroOp => ['append', k, v];
const read = (k: string, v: unknown): MicroOp => ['r', k, v];
const write = (k: string, v: unknown): MicroOp => ['w', k, v];

describe('list-append anomalies', () => {
  it('G0 write cycle (dirty writes): x says T0 before T1, y says T1 before T0', () => {
    const result = checkTransactions([
      txn(0, [append('x', 1), append('y', 1)]),
      txn(1, [append('x', 2), append('y', 2)]),
      txn(2, [read('x', [1, 2]), read('y', [2, 1])]),
    ]);
    expect(result.anomalyTypes).toEqual(['G0']);
    const cycle = result.anomalies[0].cycle!;
    expect(cycle.every((e) => e.type === 'ww')).toBe(true);
    expect(new Set(result.anomalies[0].transactions)).toEqual(new Set([0, 1]));
  });

  it('G1a aborted read (dirty read of a rolled-back write)', () => {
    const result = checkTransactions([txn(0, [append('x', 1)], 'fail'), txn(1, [read('x', [1])])]);
    expect(result.anomalyTypes).toEqual(['G1a']);
    expect(result.anomalies[0].transactions).toEqual([0, 1]);
  });

  it('G1b intermediate read: sees a state its writer later overwrote', () => {
    const result = checkTransactions([txn(0, [append('x', 1), append('x', 2)]), txn(1, [read('x', [1])])]);
    expect(result.anomalyTypes).toEqual(['G1b']);
  });

  it('G1c circular information flow: each reads the other', () => {
    const result = checkTransactions([
      txn(0, [append('x', 1), read('y', [1])]),
      txn(1, [append('y', 1), read('x', [1])]),
    ]);
    expect(result.anomalyTypes).toEqual(['G1c']);
    expect(result.anomalies[0].cycle!.map((e) => e.type)).toEqual(['wr', 'wr']);
  });

  it('G-single read skew: sees y after T0 but x before it', () => {
    const result = checkTransactions([
      txn(0, [append('x', 1), append('y', 1)]),
      txn(1, [read('x', []), read('y', [1])]),
      txn(2, [read('x', [1])]),
    ]);
    expect(result.anomalyTypes).toEqual(['G-single']);
    expect(result.anomalies[0].cycle!.filter((e) => e.type === 'rw')).toHaveLength(1);
  });

  it('G2-item write skew: doctors on call, each reads both and writes one', () => {
    const result = checkTransactions([
      txn(0, [read('alice', []), read('bob', []), append('alice', 'off')]),
      txn(1, [read('alice', []), read('bob', []), append('bob', 'off')]),
      txn(2, [read('alice', ['off']), read('bob', ['off'])]),
    ]);
    expect(result.anomalyTypes).toEqual(['G2-item']);
    expect(result.anomalies[0].cycle!.map((e) => e.type)).toEqual(['rw', 'rw']);
  });

  it('incompatible orders and garbage reads are reported', () => {
    const result = checkTransactions([
      txn(0, [append('x', 1)]),
      txn(1, [append('x', 2)]),
      txn(2, [read('x', [1, 2])]),
      txn(3, [read('x', [2])]),
      txn(4, [read('y', [99])]),
    ]);
    expect(result.anomalyTypes).toContain('incompatible-order');
    expect(result.anomalyTypes).toContain('garbage-read');
  });

  it('a serial history reports nothing', () => {
    const result = checkTransactions([
      txn(0, [read('x', null), append('x', 1), append('y', 1)]),
      txn(1, [read('x', [1]), read('y', [1]), append('x', 2)]),
      txn(2, [append('y', 2), read('y', [1, 2]), read('x', [1, 2])]),
      txn(3, [append('z', 1)], 'fail'),
      txn(4, [append('x', 3)], 'info'),
      txn(5, [read('x', [1, 2, 3]), read('z', [])]),
    ]);
    expect(result.anomalies).toEqual([]);
    expect(result.valid).toBe(true);
    expect(result.edgeCounts.ww).toBeGreaterThan(0);
    expect(result.edgeCounts.wr).toBeGreaterThan(0);
  });

  it('real time: a stale but serializable read is a G-single-realtime only when asked', () => {
    const history = [
      txn(0, [append('x', 1)], 'ok', 0),
      txn(1, [read('x', [])], 'ok', 20),
      txn(2, [read('x', [1])], 'ok', 40),
    ];
    expect(checkTransactions(history).valid).toBe(true);
    const strict = checkTransactions(history, { realtime: true });
    expect(strict.anomalyTypes).toEqual(['G-single-realtime']);
    expect(strict.edgeCounts.rt).toBeGreaterThan(0);
  });
});

describe('rw-register anomalies', () => {
  it('G0 write cycle inferred from reads-then-writes', () => {
    const result = checkTransactions([
      txn(0, [read('x', 1), write('x', 2), write('y', 3)]),
      txn(1, [write('x', 1), read('y', 3), write('y', 4)]),
    ]);
    expect(result.workload).toBe('rw-register');
    expect(result.anomalyTypes).toContain('G0');
  });

  it('G1a aborted read', () => {
    const result = checkTransactions([txn(0, [write('x', 1)], 'fail'), txn(1, [read('x', 1)])]);
    expect(result.anomalyTypes).toEqual(['G1a']);
  });

  it('G1b intermediate read', () => {
    const result = checkTransactions([txn(0, [write('x', 1), write('x', 2)]), txn(1, [read('x', 1)])]);
    expect(result.anomalyTypes).toEqual(['G1b']);
  });

  it('G1c circular information flow', () => {
    const result = checkTransactions([
      txn(0, [write('x', 1), read('y', 1)]),
      txn(1, [write('y', 1), read('x', 1)]),
    ]);
    expect(result.anomalyTypes).toEqual(['G1c']);
  });

  it('G-single read skew: x still initial, y already written', () => {
    const result = checkTransactions([
      txn(0, [write('x', 1), write('y', 1)]),
      txn(1, [read('x', null), read('y', 1)]),
    ]);
    expect(result.anomalyTypes).toEqual(['G-single']);
  });

  it('G2-item write skew', () => {
    const result = checkTransactions([
      txn(0, [read('x', null), read('y', null), write('x', 1)]),
      txn(1, [read('x', null), read('y', null), write('y', 2)]),
    ]);
    expect(result.anomalyTypes).toEqual(['G2-item']);
  });

  it('a serial history reports nothing', () => {
    const result = checkTransactions([
      txn(0, [read('x', null), write('x', 1)]),
      txn(1, [read('x', 1), write('x', 2), write('y', 1)]),
      txn(2, [read('x', 2), read('y', 1)]),
      txn(3, [write('x', 9)], 'fail'),
      txn(4, [read('x', 2)]),
    ]);
    expect(result.anomalies).toEqual([]);
  });

  it('rejects malformed transactions with a named error', () => {
    expect(() => checkTransactions([txn(0, [['append', 'x', 1]])], { workload: 'rw-register' })).toThrow(
      TransactionHistoryError,
    );
    expect(() => checkTransactions([{ process: 0, type: 'ok', ops: 'x' as never, invokeMs: 0 }])).toThrow(
      TransactionHistoryError,
    );
  });
});
