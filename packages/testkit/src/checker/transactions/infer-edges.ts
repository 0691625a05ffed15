// Infers the dependency edges of a transaction history (Adya's ww, wr, rw; plus real time) and
// the anomalies visible without cycles (G1a aborted read, G1b intermediate read), as Elle does.
// list-append recovers each key's version order from the longest read, since every read of a
// list shows the whole order of appends up to it; rw-register knows less: the initial value
// (null) precedes every write, and a transaction that reads v and then writes w puts v before w.

import { sameValue } from '../model.js';
import { DependencyGraph } from './dependency-graph.js';
import { type Anomaly, type MicroOp, type Transaction, TransactionHistoryError } from './transaction.js';

export type Workload = 'list-append' | 'rw-register';

interface WriteRecord {
  txn: number;
  /** True when this is the writer's last write to the key (what others may see). */
  final: boolean;
}

/** Reads a transaction can see from others: those before its own write to the key. */
interface ExternalRead {
  txn: number;
  key: string;
  value: unknown;
}

function show(value: unknown): string {
  return value === null || value === undefined ? 'nil' : JSON.stringify(value);
}

function valueId(value: unknown): string {
  return typeof value === 'string' ? `s${value}` : `j${JSON.stringify(value)}`;
}

function validate(txns: readonly Transaction[], workload: Workload): void {
  txns.forEach((t, i) => {
    if (!Array.isArray(t.ops)) throw new TransactionHistoryError(`transaction ${i}: expected an ops array`);
    if (t.type !== 'ok' && t.type !== 'fail' && t.type !== 'info') {
      throw new TransactionHistoryError(
        `transaction ${i}: expected type ok, fail or info, got ${String(t.type)}`,
      );
    }
    t.ops.forEach((op, j) => {
      const writeF = workload === 'list-append' ? 'append' : 'w';
      if (
        !Array.isArray(op) ||
        op.length !== 3 ||
        (op[0] !== 'r' && op[0] !== writeF) ||
        typeof op[1] !== 'string'
      ) {
        throw new TransactionHistoryError(
          `transaction ${i} op ${j}: expected ['r'|'${writeF}', key, value], got ${JSON.stringify(op)}`,
        );
      }
      if (
        workload === 'list-append' &&
        op[0] === 'r' &&
        t.type === 'ok' &&
        op[2] !== null &&
        !Array.isArray(op[2])
      ) {
        throw new TransactionHistoryError(
          `transaction ${i} op ${j}: a list-append read returns a list or null`,
        );
      }
    });
  });
}

/** Index of written values: (key, value) -> writer; duplicates are reported, not guessed. */
function indexWrites(
  txns: readonly Transaction[],
  anomalies: Anomaly[],
): Map<string, Map<string, WriteRecord>> {
  const writers = new Map<string, Map<string, WriteRecord>>();
  txns.forEach((t, txn) => {
    const lastWriteOfKey = new Map<string, number>();
    t.ops.forEach((op, j) => {
      if (op[0] !== 'r') lastWriteOfKey.set(op[1], j);
    });
    t.ops.forEach((op, j) => {
      if (op[0] === 'r') return;
      const [, key, value] = op;
      let byValue = writers.get(key);
      if (byValue === undefined) writers.set(key, (byValue = new Map()));
      const id = valueId(value);
      const other = byValue.get(id);
      if (other !== undefined && other.txn !== txn) {
        anomalies.push({
          type: 'duplicate-write',
          transactions: [other.txn, txn],
          explanation: `T${other.txn} and T${txn} both wrote ${show(value)} to ${key}: values must be unique per key`,
        });
      }
      byValue.set(id, { txn, final: lastWriteOfKey.get(key) === j });
    });
  });
  return writers;
}

/** Reads of committed transactions that precede their own write to the same key. */
function externalReads(txns: readonly Transaction[]): ExternalRead[] {
  const reads: ExternalRead[] = [];
  txns.forEach((t, txn) => {
    if (t.type !== 'ok') return;
    const written = new Set<string>();
    for (const op of t.ops as MicroOp[]) {
      if (op[0] !== 'r') written.add(op[1]);
      else if (!written.has(op[1])) reads.push({ txn, key: op[1], value: op[2] });
    }
  });
  return reads;
}

/** G1a, G1b and garbage: what one read of value `seen` (written to `key`) says on its own. */
function checkObservedWrite(
  txns: readonly Transaction[],
  read: ExternalRead,
  seen: unknown,
  writer: WriteRecord | undefined,
  checkIntermediate: boolean,
  anomalies: Anomaly[],
): void {
  if (writer === undefined) {
    anomalies.push({
      type: 'garbage-read',
      transactions: [read.txn],
      explanation: `T${read.txn} read ${show(seen)} from ${read.key}, which no transaction wrote`,
    });
    return;
  }
  if (writer.txn === read.txn) return;
  if (txns[writer.txn].type === 'fail') {
    anomalies.push({
      type: 'G1a',
      transactions: [writer.txn, read.txn],
      explanation: `aborted read: T${read.txn} read ${show(seen)} from ${read.key}, written by T${writer.txn}, which aborted`,
    });
  } else if (checkIntermediate && !writer.final) {
    anomalies.push({
      type: 'G1b',
      transactions: [writer.txn, read.txn],
      explanation: `intermediate read: T${read.txn} read ${show(seen)} from ${read.key}, which T${writer.txn} overwrote later in the same transaction`,
    });
  }
}

export interface InferredGraph {
  graph: DependencyGraph;
  anomalies: Anomaly[];
}

export function inferListAppend(txns: readonly Transaction[]): InferredGraph {
  validate(txns, 'list-append');
  const anomalies: Anomaly[] = [];
  const graph = new DependencyGraph();
  const writers = indexWrites(txns, anomalies);
  const writerOf = (key: string, value: unknown) => writers.get(key)?.get(valueId(value));
  // Every committed read is a prefix of the key's version order; the longest one shows most.
  const longest = new Map<string, { txn: number; list: unknown[] }>();
  txns.forEach((t, txn) => {
    if (t.type !== 'ok') return;
    for (const op of t.ops) {
      if (op[0] !== 'r') continue;
      const list = (op[2] ?? []) as unknown[];
      const best = longest.get(op[1]);
      if (best === undefined || list.length > best.list.length) longest.set(op[1], { txn, list });
    }
  });
  txns.forEach((t, txn) => {
    if (t.type !== 'ok') return;
    for (const op of t.ops) {
      if (op[0] !== 'r') continue;
      const list = (op[2] ?? []) as unknown[];
      const best = longest.get(op[1])!;
      if (!list.every((v, i) => sameValue(v, best.list[i]))) {
        anomalies.push({
          type: 'incompatible-order',
          transactions: [txn, best.txn],
          explanation: `T${txn} read ${op[1]} = ${show(list)}, not a prefix of T${best.txn}'s ${show(best.list)}`,
        });
      }
    }
  });
  // ww: consecutive appends in each key's version order.
  for (const [key, { list }] of longest) {
    for (let i = 0; i + 1 < list.length; i++) {
      const a = writerOf(key, list[i]);
      const b = writerOf(key, list[i + 1]);
      if (a === undefined || b === undefined) continue;
      graph.add({
        from: a.txn,
        to: b.txn,
        type: 'ww',
        key,
        why: `appended ${show(list[i])} before ${show(list[i + 1])} to ${key}`,
      });
    }
  }
  for (const read of externalReads(txns)) {
    const list = (read.value ?? []) as unknown[];
    for (const element of list) {
      // Every element was committed; only the last one can be an intermediate state.
      checkObservedWrite(
        txns,
        read,
        element,
        writerOf(read.key, element),
        element === list[list.length - 1],
        anomalies,
      );
    }
    if (list.length > 0) {
      const last = list[list.length - 1];
      const w = writerOf(read.key, last);
      if (w !== undefined)
        graph.add({
          from: w.txn,
          to: read.txn,
          type: 'wr',
          key: read.key,
          why: `read ${read.key} ending in ${show(last)}`,
        });
    }
    const order = longest.get(read.key)?.list ?? [];
    if (order.length > list.length) {
      const nextValue = order[list.length];
      const next = writerOf(read.key, nextValue);
      if (next !== undefined) {
        graph.add({
          from: read.txn,
          to: next.txn,
          type: 'rw',
          key: read.key,
          why: `read ${read.key} = ${show(list)} before ${show(nextValue)} was appended`,
        });
      }
    }
  }
  return { graph, anomalies };
}

export function inferRwRegister(txns: readonly Transaction[]): InferredGraph {
  validate(txns, 'rw-register');
  const anomalies: Anomaly[] = [];
  const graph = new DependencyGraph();
  const writers = indexWrites(txns, anomalies);
  const writerOf = (key: string, value: unknown) => writers.get(key)?.get(valueId(value));
  const reads = externalReads(txns);
  const readersOf = new Map<string, number[]>(); // key + value id -> reading transactions
  for (const read of reads) {
    const id = `${read.key}\u0000${read.value === null ? 'nil' : valueId(read.value)}`;
    let list = readersOf.get(id);
    if (list === undefined) readersOf.set(id, (list = []));
    list.push(read.txn);
    if (read.value === null) continue;
    const w = writerOf(read.key, read.value);
    checkObservedWrite(txns, read, read.value, w, true, anomalies);
    if (w !== undefined)
      graph.add({
        from: w.txn,
        to: read.txn,
        type: 'wr',
        key: read.key,
        why: `read ${read.key} = ${show(read.value)}`,
      });
  }
  /** Version `before` of key precedes the version `after` written by `writer`. */
  const precedes = (key: string, before: unknown, writer: number, after: unknown): void => {
    if (before !== null) {
      const w = writerOf(key, before);
      if (w !== undefined)
        graph.add({
          from: w.txn,
          to: writer,
          type: 'ww',
          key,
          why: `${key}: ${show(before)} was overwritten by ${show(after)}`,
        });
    }
    const readers = readersOf.get(`${key}\u0000${before === null ? 'nil' : valueId(before)}`) ?? [];
    for (const reader of readers) {
      graph.add({
        from: reader,
        to: writer,
        type: 'rw',
        key,
        why: `read ${key} = ${show(before)}, later overwritten by ${show(after)}`,
      });
    }
  };
  txns.forEach((t, txn) => {
    if (t.type === 'fail') return;
    // What this transaction read from others, per key, before writing it. Its own earlier
    // writes are intermediate versions, never installed, so they order nothing (Adya §3.1).
    const readBefore = new Map<string, unknown>();
    const written = new Set<string>();
    for (const op of t.ops) {
      const [f, key, value] = op;
      if (f === 'r') {
        if (t.type === 'ok' && !written.has(key) && !readBefore.has(key)) readBefore.set(key, value);
        continue;
      }
      if (written.has(key)) continue;
      written.add(key);
      // The initial state precedes every write; a value this transaction read precedes its write.
      precedes(key, null, txn, value);
      const before = readBefore.get(key);
      if (before !== undefined && before !== null) precedes(key, before, txn, value);
    }
  });
  return { graph, anomalies };
}

/** Real-time edges (strict serializability): T -> U when T completed before U was invoked. */
export function addRealtimeEdges(graph: DependencyGraph, txns: readonly Transaction[]): void {
  const events: { timeMs: number; kind: 0 | 1; txn: number }[] = [];
  txns.forEach((t, txn) => {
    if (t.type === 'fail') return;
    events.push({ timeMs: t.invokeMs, kind: 1, txn });
    const done = t.completeMs;
    if (t.type === 'ok' && done !== undefined && Number.isFinite(done))
      events.push({ timeMs: done, kind: 0, txn });
  });
  // At equal times an invocation comes first: "completed before invoked" must be strict.
  events.sort((a, b) => a.timeMs - b.timeMs || b.kind - a.kind);
  // Elle's trick to keep this near-linear: only the completions not yet followed by a later
  // completion that itself follows them need edges; older ones are reachable transitively.
  let frontier: number[] = [];
  const predecessors = new Map<number, number[]>();
  for (const event of events) {
    if (event.kind === 1) {
      predecessors.set(event.txn, frontier.slice());
      for (const t of frontier)
        graph.add({ from: t, to: event.txn, type: 'rt', why: `T${t} completed before T${event.txn} began` });
    } else {
      const covered = new Set(predecessors.get(event.txn) ?? []);
      frontier = frontier.filter((t) => !covered.has(t));
      frontier.push(event.txn);
    }
  }
}
