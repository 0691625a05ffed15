// Seeded transaction histories with known anomalies, for testing the Elle-style checker.
// The base history is recorded from a serial in-memory database: every transaction takes
// effect at one instant inside its [invoke, complete] interval, so the history is strictly
// serializable by construction. Keys rotate as Elle's generators do (a key takes a bounded
// number of writes, then a fresh key replaces it), which keeps every read short and the
// checker linear in the size of the history. An injected anomaly adds a handful of
// transactions on keys of their own, concurrent with each other, in the middle of the history;
// which anomaly they form is known by construction (Adya 1999; Elle, VLDB 2020, §4):
//   G0           T1 and T2 append to x and y in opposite orders (dirty writes)
//   G1a          a reader sees an append of an aborted transaction
//   G1b          a reader sees a transaction's first append to x but not its second
//   G1c          T1 and T2 each read the other's append
//   G-single     T2 sees T1's append to y but not to x (read skew)
//   G2-item      T1 and T2 each read x and y empty and append to one of them (write skew)
//   lost-update  T1 and T2 read x empty, then both append to it
// (rw-register histories take every anomaly but G0: ordering two blind writes needs a read.)

import { SeededRandom } from '@ddia/common/core';
import type { MicroOp, Transaction } from './transaction.js';

export type InjectedAnomaly = 'G0' | 'G1a' | 'G1b' | 'G1c' | 'G-single' | 'G2-item' | 'lost-update';

export const INJECTABLE_ANOMALIES: readonly InjectedAnomaly[] = [
  'G0',
  'G1a',
  'G1b',
  'G1c',
  'G-single',
  'G2-item',
  'lost-update',
];

export interface TransactionHistoryOptions {
  seed: number;
  /** Transactions in the base history (the injected ones come on top). */
  transactions: number;
  workload?: 'list-append' | 'rw-register';
  /** Keys in use at once. */
  activeKeys?: number;
  /** Writes a key takes before a fresh key replaces it. */
  writesPerKeyMax?: number;
  /** Micro-operations per transaction: 1..opsPerTransactionMax. */
  opsPerTransactionMax?: number;
  /** Share of transactions that abort (`fail`) and of those whose outcome is unknown (`info`). */
  failShare?: number;
  infoShare?: number;
  /** Concurrent clients; intervals overlap about this many transactions deep. */
  clients?: number;
  anomaly?: InjectedAnomaly;
}

export interface GeneratedTransactions {
  transactions: Transaction[];
  /** Indexes of the injected transactions (the anomaly's cycle or pair lies among them). */
  injected: number[];
  /** Micro-operations in all. */
  microOps: number;
}

const DEFAULTS = {
  workload: 'list-append' as const,
  activeKeys: 8,
  writesPerKeyMax: 32,
  opsPerTransactionMax: 4,
  failShare: 0.02,
  infoShare: 0.01,
  clients: 10,
};

/** Time between two effects of the serial database; intervals stretch around them. */
const EFFECT_STEP_MS = 2;

export function generateTransactionHistory(options: TransactionHistoryOptions): GeneratedTransactions {
  const o = { ...DEFAULTS, ...options };
  const random = new SeededRandom(o.seed);
  const listAppend = o.workload === 'list-append';
  const state = new Map<string, unknown[]>(); // list per key (rw-register: its last element)
  const writes = new Map<string, number>();
  let nextKey = 0;
  const keys: string[] = [];
  for (let i = 0; i < o.activeKeys; i++) keys.push(String(nextKey++));
  const transactions: Transaction[] = [];
  const injected: number[] = [];
  let microOps = 0;
  const injectAt = o.anomaly === undefined ? -1 : Math.floor(o.transactions / 2);

  for (let i = 0; i < o.transactions; i++) {
    const effectMs = (i + 1) * EFFECT_STEP_MS * 4;
    if (i === injectAt && o.anomaly !== undefined) {
      for (const t of injectAnomaly(o.anomaly, listAppend, effectMs - 3 * EFFECT_STEP_MS)) {
        injected.push(transactions.length);
        transactions.push(t);
        microOps += t.ops.length;
      }
    }
    const roll = random.next();
    const type: Transaction['type'] =
      roll < o.failShare ? 'fail' : roll < o.failShare + o.infoShare ? 'info' : 'ok';
    const opCount = random.int(1, o.opsPerTransactionMax);
    const ops: MicroOp[] = [];
    // An aborted or unknown transaction's reads are not known: Jepsen records them as nil.
    const applies = type === 'ok' || (type === 'info' && random.chance(0.5));
    for (let j = 0; j < opCount; j++) {
      const slot = random.int(0, keys.length - 1);
      const key = keys[slot];
      if (random.chance(0.5) && type === 'ok') {
        const list = state.get(key);
        ops.push(['r', key, list === undefined ? null : listAppend ? list.slice() : list[list.length - 1]]);
        continue;
      }
      const count = (writes.get(key) ?? 0) + 1;
      writes.set(key, count);
      const value = count; // unique per key
      ops.push([listAppend ? 'append' : 'w', key, value]);
      if (applies) {
        let list = state.get(key);
        if (list === undefined) state.set(key, (list = []));
        list.push(value);
      }
      // Rotate: past its writes a key is retired for a fresh one (Elle's key rotation).
      if (count >= o.writesPerKeyMax) keys[slot] = String(nextKey++);
    }
    if (type === 'info') for (const op of ops) if (op[0] === 'r') op[2] = null;
    // The interval: invoked up to `clients` steps before the effect, completed up to that after.
    const invokeMs = effectMs - random.int(1, o.clients) * EFFECT_STEP_MS;
    const t: Transaction = { process: i % o.clients, type, ops, invokeMs };
    if (type !== 'info') t.completeMs = effectMs + random.int(1, o.clients) * EFFECT_STEP_MS;
    transactions.push(t);
    microOps += ops.length;
  }
  return { transactions, injected, microOps };
}

/** The injected transactions, on keys of their own ("x", "y" with a suffix), all overlapping. */
function injectAnomaly(anomaly: InjectedAnomaly, listAppend: boolean, atMs: number): Transaction[] {
  const x = 'anomaly-x';
  const y = 'anomaly-y';
  const w = (key: string, v: number): MicroOp => [listAppend ? 'append' : 'w', key, v];
  /** A read that saw `values` appended in order (rw-register: the last of them, or nil). */
  const r = (key: string, values: number[]): MicroOp => [
    'r',
    key,
    listAppend ? values : values.length === 0 ? null : values[values.length - 1],
  ];
  const txn = (ops: MicroOp[], offsetMs: number, type: Transaction['type'] = 'ok'): Transaction => ({
    process: -1,
    type,
    ops,
    invokeMs: atMs + offsetMs,
    completeMs: atMs + offsetMs + 3,
  });
  // Process numbers are distinct negative ones: they are not the base history's clients.
  const numbered = (ts: Transaction[]): Transaction[] => ts.map((t, i) => ({ ...t, process: -1 - i }));
  switch (anomaly) {
    case 'G0':
      // rw-register cannot show a pure write cycle: ordering two writes needs a read between them.
      if (!listAppend) throw new RangeError('G0 is injected into list-append histories only');
      return numbered([
        txn([w(x, 1), w(y, 1)], 0),
        txn([w(x, 2), w(y, 2)], 1),
        txn([r(x, [1, 2]), r(y, [2, 1])], 5), // reveals the orders: x 1 then 2, y 2 then 1
      ]);
    case 'G1a':
      return numbered([txn([w(x, 1)], 0, 'fail'), txn([r(x, [1])], 1)]);
    case 'G1b':
      return numbered([txn([w(x, 1), w(x, 2)], 0), txn([r(x, [1])], 1)]);
    case 'G1c':
      return numbered([txn([w(x, 1), r(y, [1])], 0), txn([w(y, 1), r(x, [1])], 1)]);
    case 'G-single':
      return numbered([txn([w(x, 1), w(y, 1)], 0), txn([r(x, []), r(y, [1])], 1), txn([r(x, [1])], 5)]);
    case 'G2-item':
      return numbered([
        txn([r(x, []), r(y, []), w(x, 1)], 0),
        txn([r(x, []), r(y, []), w(y, 1)], 1),
        txn([r(x, [1]), r(y, [1])], 5),
      ]);
    case 'lost-update':
      return numbered([txn([r(x, []), w(x, 1)], 0), txn([r(x, []), w(x, 2)], 1), txn([r(x, [1, 2])], 5)]);
  }
}
