// Parses Elle's transactional histories (jepsen.tests.cycle.append / wr, Elle's README): Jepsen
// EDN operation maps whose :f is :txn and whose :value is a vector of micro-operations,
//   {:process 0, :type :invoke, :f :txn, :value [[:append 5 1] [:r 5 nil]], :time 1000, :index 0}
//   {:process 0, :type :ok,     :f :txn, :value [[:append 5 1] [:r 5 [1]]], :time 2000, :index 1}
// one map per line or all in one vector. The completion carries what reads returned; a :fail
// or :info completion keeps the invocation's micro-operations (reads unknown, nil). An
// invocation left open at the end is :info. Keys become strings (Elle's are usually integers).
// The EDN reading is edn-history.ts's, shared with parse-jepsen-edn.ts; this adapter pairs
// invocations with completions into transactions.

import type { MicroOp, Transaction } from '../checker/transactions/transaction.js';
import { type LocatedEvent, readEdnHistory } from './edn-history.js';
import { HistoryParseError } from './errors.js';

const MICRO_OP_FUNCTIONS: Record<string, MicroOp[0]> = { ':append': 'append', ':r': 'r', ':w': 'w' };

export function parseElleEdn(text: string): Transaction[] {
  const located = readEdnHistory(text, '{:process .., :type .., :f :txn, :value [..]}');
  const transactions: Transaction[] = [];
  const open = new Map<number, { index: number; at: LocatedEvent }>();
  for (const at of located) {
    const { event, line, column } = at;
    if (event.f !== 'txn') {
      throw new HistoryParseError(line, ':f :txn (an Elle transaction)', `:${event.f}`, column);
    }
    if (event.type === 'invoke') {
      const previous = open.get(event.process);
      if (previous !== undefined) {
        throw new HistoryParseError(
          line,
          `a completion of process ${event.process}'s transaction invoked at line ${previous.at.line} before its next invocation`,
          undefined,
          column,
        );
      }
      open.set(event.process, { index: transactions.length, at });
      transactions.push({
        process: event.process,
        type: 'info',
        ops: microOps(event.value, line, column, true),
        invokeMs: event.timeMs,
      });
      continue;
    }
    const invocation = open.get(event.process);
    if (invocation === undefined) {
      throw new HistoryParseError(
        line,
        `an invocation by process ${event.process} before this completion`,
        undefined,
        column,
      );
    }
    open.delete(event.process);
    const t = transactions[invocation.index];
    t.type = event.type;
    if (event.type === 'ok') {
      t.ops = microOps(event.value, line, column, false);
      const invoked =
        t.ops.length === 0 ? undefined : microOps(invocation.at.event.value, line, column, true);
      if (invoked !== undefined && invoked.length !== t.ops.length) {
        throw new HistoryParseError(
          line,
          `the completion to have the invocation's ${invoked.length} micro-operations`,
          String(t.ops.length),
          column,
        );
      }
    }
    if (event.type !== 'info') t.completeMs = event.timeMs;
  }
  return transactions;
}

function microOps(value: unknown, line: number, column: number, invocation: boolean): MicroOp[] {
  if (!Array.isArray(value)) {
    throw new HistoryParseError(
      line,
      'a :value vector of micro-operations such as [[:append 1 2] [:r 1 nil]]',
      JSON.stringify(value),
      column,
    );
  }
  return value.map((op, i) => {
    const f = Array.isArray(op) ? MICRO_OP_FUNCTIONS[op[0] as string] : undefined;
    if (!Array.isArray(op) || op.length !== 3 || f === undefined) {
      throw new HistoryParseError(
        line,
        `micro-operation ${i} to be [:append k v], [:r k v] or [:w k v]`,
        JSON.stringify(op),
        column,
      );
    }
    const key = op[1];
    if (typeof key !== 'string' && typeof key !== 'number') {
      throw new HistoryParseError(
        line,
        `micro-operation ${i}'s key to be an integer or a string`,
        JSON.stringify(key),
        column,
      );
    }
    // An invocation does not know what its reads will return.
    const result = f === 'r' && invocation ? null : op[2];
    return [f, String(key), result] as MicroOp;
  });
}
