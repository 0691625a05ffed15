// Infers the dependency edges of a transaction history (Adya's ww, wr, rw; plus real time) and
// the anomalies visible without cycles (G1a aborted read, G1b intermediate read, lost update),
// as Elle does. list-append recovers each key's version order from the longest read, since
// every read of a list shows the whole order of appends up to it; rw-register knows less: the
// initial value (null) precedes every write, and a transaction that reads v and then writes w
// puts v before w. Every pass is linear in the micro-operations (plus the length of reads), so
// histories of millions of operations are checked in seconds.

import { sameValue } from '../model.js';
import { DependencyGraph, type RawEdge } from './dependency-graph.js';
import { type Anomaly, type MicroOp, type Transaction, TransactionHistoryError } from './transaction.js';

export type Workload = 'list-append' | 'rw-register';

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

/** A written value's identity within its key: numbers and strings as themselves, others as JSON. */
function valueId(value: unknown): unknown {
  return typeof value === 'object' && value !== null ? `\u0001${JSON.stringify(value)}` : value;
}

function show(value: unknown): string {
  return value === null || value === undefined ? 'nil' : JSON.stringify(value);
}

/** (key, value) -> writer * 2 + (1 when it is the writer's last write to the key). */
type WriterIndex = Map<string, Map<unknown, number>>;

function indexWrites(txns: readonly Transaction[], anomalies: Anomaly[]): WriterIndex {
  const writers: WriterIndex = new Map();
  for (let txn = 0; txn < txns.length; txn++) {
    const ops = txns[txn].ops;
    for (let j = 0; j < ops.length; j++) {
      const op = ops[j];
      if (op[0] === 'r') continue;
      const [, key, value] = op;
      let last = true;
      for (let k = j + 1; k < ops.length; k++) if (ops[k][0] !== 'r' && ops[k][1] === key) last = false;
      let byValue = writers.get(key);
      if (byValue === undefined) writers.set(key, (byValue = new Map()));
      const id = valueId(value);
      const other = byValue.get(id);
      if (other !== undefined && other >> 1 !== txn) {
        anomalies.push({
          type: 'duplicate-write',
          transactions: [other >> 1, txn],
          explanation: `T${other >> 1} and T${txn} both wrote ${show(value)} to ${key}: values must be unique per key`,
        });
      }
      byValue.set(id, txn * 2 + (last ? 1 : 0));
    }
  }
  return writers;
}

interface WriteRecord {
  txn: number;
  /** True when this is the writer's last write to the key (what others may see). */
  final: boolean;
}

function lookup(writers: WriterIndex, key: string, value: unknown): WriteRecord | undefined {
  const code = writers.get(key)?.get(valueId(value));
  return code === undefined ? undefined : { txn: code >> 1, final: (code & 1) === 1 };
}

/** Reads a transaction can see from others: those before its own write to the key. */
interface ExternalRead {
  txn: number;
  key: string;
  value: unknown;
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

/**
 * Lost update (Elle's lost-update, DDIA ch. 7 "Preventing Lost Updates"): two committed
 * transactions read the same version of a key and both write it; one write is lost to the other.
 * `versionOf` names the version a read saw.
 */
function findLostUpdates(
  txns: readonly Transaction[],
  versionOf: (value: unknown) => unknown,
  anomalies: Anomaly[],
): void {
  const byVersion = new Map<string, Map<unknown, number[]>>();
  txns.forEach((t, txn) => {
    if (t.type !== 'ok') return;
    const readFirst = new Map<string, unknown>();
    const written = new Set<string>();
    for (const op of t.ops) {
      if (op[0] === 'r') {
        if (!written.has(op[1]) && !readFirst.has(op[1])) readFirst.set(op[1], op[2]);
      } else written.add(op[1]);
    }
    for (const [key, value] of readFirst) {
      if (!written.has(key)) continue;
      let versions = byVersion.get(key);
      if (versions === undefined) byVersion.set(key, (versions = new Map()));
      const version = versionOf(value);
      const list = versions.get(version);
      if (list === undefined) versions.set(version, [txn]);
      else list.push(txn);
    }
  });
  for (const [key, versions] of byVersion) {
    for (const [, list] of versions) {
      if (list.length < 2) continue;
      const seen = txns[list[0]].ops.find((op) => op[0] === 'r' && op[1] === key)?.[2];
      anomalies.push({
        type: 'lost-update',
        transactions: list,
        explanation: `lost update: ${list.map((t) => `T${t}`).join(', ')} all read ${key} = ${show(seen)} and then wrote ${key}`,
      });
    }
  }
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

/** A transaction's first read of `key` before writing it, and its writes to `key`. */
function readOf(t: Transaction, key: string): unknown {
  for (const op of t.ops) {
    if (op[1] !== key) continue;
    if (op[0] === 'r') return op[2];
    return undefined;
  }
  return undefined;
}

function writesOf(t: Transaction, key: string): unknown[] {
  return t.ops.filter((op) => op[0] !== 'r' && op[1] === key).map((op) => op[2]);
}

/** What both workloads' inference starts from: checked histories and who wrote each value. */
function startInference(txns: readonly Transaction[], workload: Workload) {
  validate(txns, workload);
  const anomalies: Anomaly[] = [];
  const graph = new DependencyGraph(txns.length);
  const writers = indexWrites(txns, anomalies);
  const writerOf = (key: string, value: unknown) => lookup(writers, key, value);
  return { anomalies, graph, writerOf };
}

export function inferListAppend(txns: readonly Transaction[]): InferredGraph {
  const { anomalies, graph, writerOf } = startInference(txns, 'list-append');
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
      if (list === best.list) continue;
      let prefix = true;
      for (let i = 0; i < list.length && prefix; i++) {
        if (list[i] !== best.list[i] && !sameValue(list[i], best.list[i])) prefix = false;
      }
      if (!prefix) {
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
      graph.add(a.txn, b.txn, 'ww', key);
    }
  }
  for (const read of externalReads(txns)) {
    const list = (read.value ?? []) as unknown[];
    for (let i = 0; i < list.length; i++) {
      // Every element was committed; only the last one can be an intermediate state.
      checkObservedWrite(txns, read, list[i], writerOf(read.key, list[i]), i === list.length - 1, anomalies);
    }
    if (list.length > 0) {
      const w = writerOf(read.key, list[list.length - 1]);
      if (w !== undefined) graph.add(w.txn, read.txn, 'wr', read.key);
    }
    const order = longest.get(read.key)?.list ?? [];
    if (order.length > list.length) {
      const next = writerOf(read.key, order[list.length]);
      if (next !== undefined) graph.add(read.txn, next.txn, 'rw', read.key);
    }
  }
  findLostUpdates(txns, (value) => (Array.isArray(value) ? value.length : 0), anomalies);
  graph.explain = (edge: RawEdge): string => {
    if (edge.type === 'rt') return realtimeWhy(edge);
    const key = edge.key!;
    const order = longest.get(key)?.list ?? [];
    const position = (txn: number, values: unknown[]): number =>
      order.findIndex((v) => writerOf(key, v)?.txn === txn && values.some((w) => sameValue(v, w)));
    if (edge.type === 'ww') {
      const i = position(edge.from, writesOf(txns[edge.from], key));
      const a = order[i];
      const b = order[i + 1];
      return `${key}: T${edge.from} appended ${show(a)} right before T${edge.to} appended ${show(b)}`;
    }
    if (edge.type === 'wr') {
      const seen = readOf(txns[edge.to], key) as unknown[];
      return `T${edge.to} read ${key} = ${show(seen)}, ending in T${edge.from}'s append`;
    }
    const seen = (readOf(txns[edge.from], key) ?? []) as unknown[];
    return `T${edge.from} read ${key} = ${show(seen)}, before T${edge.to} appended the next element ${show(order[seen.length])}`;
  };
  graph.finish();
  return { graph, anomalies };
}

export function inferRwRegister(txns: readonly Transaction[]): InferredGraph {
  const { anomalies, graph, writerOf } = startInference(txns, 'rw-register');
  const reads = externalReads(txns);
  const readersOf = new Map<string, Map<unknown, number[]>>(); // key -> value id -> readers
  const NIL = Symbol('nil');
  for (const read of reads) {
    let byValue = readersOf.get(read.key);
    if (byValue === undefined) readersOf.set(read.key, (byValue = new Map()));
    const id = read.value === null ? NIL : valueId(read.value);
    const list = byValue.get(id);
    if (list === undefined) byValue.set(id, [read.txn]);
    else list.push(read.txn);
    if (read.value === null) continue;
    const w = writerOf(read.key, read.value);
    checkObservedWrite(txns, read, read.value, w, true, anomalies);
    if (w !== undefined) graph.add(w.txn, read.txn, 'wr', read.key);
  }
  /** Version `before` of key precedes the version written by `writer`. */
  const precedes = (key: string, before: unknown, writer: number): void => {
    if (before !== null) {
      const w = writerOf(key, before);
      if (w !== undefined) graph.add(w.txn, writer, 'ww', key);
    }
    const readers = readersOf.get(key)?.get(before === null ? NIL : valueId(before)) ?? [];
    for (const reader of readers) graph.add(reader, writer, 'rw', key);
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
      precedes(key, null, txn);
      const before = readBefore.get(key);
      if (before !== undefined && before !== null) precedes(key, before, txn);
    }
  });
  findLostUpdates(txns, (value) => (value === null ? NIL : valueId(value)), anomalies);
  graph.explain = (edge: RawEdge): string => {
    if (edge.type === 'rt') return realtimeWhy(edge);
    const key = edge.key!;
    if (edge.type === 'wr')
      return `T${edge.to} read ${key} = ${show(readOf(txns[edge.to], key))}, written by T${edge.from}`;
    const next = show(writesOf(txns[edge.to], key)[0]);
    if (edge.type === 'ww') {
      return `${key}: T${edge.to} read T${edge.from}'s ${show(readOf(txns[edge.to], key))} and overwrote it with ${next}`;
    }
    return `T${edge.from} read ${key} = ${show(readOf(txns[edge.from], key) ?? null)}, a version before T${edge.to}'s write of ${next}`;
  };
  graph.finish();
  return { graph, anomalies };
}

function realtimeWhy(edge: RawEdge): string {
  return `T${edge.from} completed before T${edge.to} began`;
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
      if (frontier.length > 0) predecessors.set(event.txn, frontier.slice());
      for (const t of frontier) graph.add(t, event.txn, 'rt');
    } else {
      const before = predecessors.get(event.txn);
      if (before !== undefined) {
        const covered = new Set(before);
        frontier = frontier.filter((t) => !covered.has(t));
        predecessors.delete(event.txn);
      }
      frontier.push(event.txn);
    }
  }
  graph.finish();
}
