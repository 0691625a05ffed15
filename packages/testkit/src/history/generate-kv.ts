// Seeded key-value histories with known verdicts, shaped like Porcupine's largest test data
// (many concurrent clients doing get / put / append on a few keys). The good history is
// recorded from a correct in-memory map: every operation takes effect at one instant inside its
// interval, so it is linearizable by construction. Its bad twin changes one thing that no
// linearization can explain, so it is NOT linearizable by construction:
//   - stale read: a get returns a value the key held before a write that completed before the
//     get was invoked (DDIA ch. 9, Figure 9-1's Bob);
//   - lost write: an acknowledged append vanishes from every later read of its key.

import { type Random, SeededRandom } from '@ddia/common/core';
import type { HistoryEvent } from './event.js';

export interface KvHistoryOptions {
  seed: number;
  /** Concurrent clients (Jepsen processes), each with one operation in flight. */
  clients?: number;
  keys?: number;
  /** Operations in all; the history has twice as many events. */
  operations?: number;
  /** Shares of get / put / append (normalised). */
  mix?: { get: number; put: number; append: number };
  /** Share of operations whose client times out (an `info` completion: outcome unknown). */
  infoShare?: number;
}

export type KvFault = 'stale-read' | 'lost-write';

export interface GeneratedKvHistory {
  seed: number;
  /** Linearizable. */
  good: HistoryEvent[];
  /** NOT linearizable; undefined when the run offered no place for the fault. */
  bad?: HistoryEvent[];
  fault: KvFault;
  /** What was changed, for a test's message. */
  faultDescription?: string;
}

interface PlannedOp {
  process: number;
  f: 'get' | 'put' | 'append';
  key: string;
  input: string | null;
  output: string | null;
  invokeMs: number;
  effectMs: number;
  completeMs: number;
  info: boolean;
  /** The key's value just before this op took effect, and the writes it was built from. */
  before: string;
  beforeBuilders: PlannedOp[];
}

const DEFAULTS = {
  clients: 50,
  keys: 5,
  operations: 10_000,
  mix: { get: 0.4, put: 0.1, append: 0.5 },
  infoShare: 0,
};
/** Operation latency is uniform in [1, LATENCY_MAX_MS] of simulated time. */
const LATENCY_MAX_MS = 20;
/** A client thinks up to this long between operations. */
const THINK_MAX_MS = 5;

/** Histories as Porcupine's kv test data: keys start as "", append concatenates. */
export function generateKvHistory(
  options: KvHistoryOptions,
  fault: KvFault = 'stale-read',
): GeneratedKvHistory {
  const o = { ...DEFAULTS, ...options };
  const random = new SeededRandom(o.seed);
  const ops = planOperations(o, random);
  const good = toEvents(ops);
  const broken = breakHistory(ops, fault, random);
  const out: GeneratedKvHistory = { seed: o.seed, good, fault };
  if (broken !== undefined) {
    out.bad = toEvents(broken.ops);
    out.faultDescription = broken.description;
  }
  return out;
}

function planOperations(o: typeof DEFAULTS & KvHistoryOptions, random: Random): PlannedOp[] {
  const total = o.mix.get + o.mix.put + o.mix.append;
  const ops: PlannedOp[] = [];
  const perClient = Math.ceil(o.operations / o.clients);
  for (let process = 0; process < o.clients; process++) {
    let nowMs = random.next() * THINK_MAX_MS;
    for (let n = 0; n < perClient && ops.length < o.operations; n++) {
      const roll = random.next() * total;
      const f = roll < o.mix.get ? 'get' : roll < o.mix.get + o.mix.put ? 'put' : 'append';
      const invokeMs = nowMs;
      const latencyMs = 1 + random.next() * (LATENCY_MAX_MS - 1);
      const completeMs = invokeMs + latencyMs;
      const effectMs = invokeMs + random.next() * latencyMs;
      const info = f !== 'get' && random.chance(o.infoShare);
      ops.push({
        process,
        f,
        key: String(random.int(0, o.keys - 1)),
        // Porcupine's shape: unique values that name their writer.
        input: f === 'get' ? null : `x ${process} ${n} y`,
        output: null,
        invokeMs,
        effectMs,
        completeMs,
        info,
        before: '',
        beforeBuilders: [],
      });
      // A client that timed out never invokes again (Jepsen's rule).
      if (info) break;
      nowMs = completeMs + random.next() * THINK_MAX_MS;
    }
  }
  // Apply in effect order to a correct map: each op's output is what the map gave at its instant.
  const values = new Map<string, { value: string; builders: PlannedOp[] }>();
  for (const op of [...ops].sort((a, b) => a.effectMs - b.effectMs)) {
    const current = values.get(op.key) ?? { value: '', builders: [] };
    op.before = current.value;
    op.beforeBuilders = current.builders;
    if (op.f === 'get') op.output = current.value;
    else if (op.f === 'put') values.set(op.key, { value: op.input!, builders: [op] });
    else values.set(op.key, { value: current.value + op.input!, builders: [...current.builders, op] });
    if (op.f !== 'get') op.output = op.input;
  }
  return ops;
}

function breakHistory(
  ops: PlannedOp[],
  fault: KvFault,
  random: Random,
): { ops: PlannedOp[]; description: string } | undefined {
  const writes = ops.filter((op) => op.f !== 'get');
  if (fault === 'stale-read') {
    // A get G of the value B a key held before a write W, where W completed before G began and
    // every write B was built from completed before W began. Then in every linearization they
    // all precede W and W precedes G; from W on the key holds a token B lacks (W's, or a later
    // put's: every value written is unique), so G cannot read B.
    const candidates: { get: PlannedOp; stale: string }[] = [];
    for (const get of ops) {
      if (get.f !== 'get' || get.info) continue;
      const write = writes.find(
        (w) =>
          !w.info &&
          w.key === get.key &&
          w.completeMs < get.invokeMs &&
          w.before !== get.output &&
          w.beforeBuilders.every((b) => !b.info && b.completeMs < w.invokeMs),
      );
      if (write !== undefined) candidates.push({ get, stale: write.before });
      if (candidates.length >= 64) break;
    }
    if (candidates.length === 0) return undefined;
    const { get, stale } = random.pick(candidates);
    const changed = ops.map((op) => (op === get ? { ...op, output: stale } : op));
    return {
      ops: changed,
      description: `process ${get.process}'s get of key ${get.key} at ${get.invokeMs.toFixed(1)} ms returns the value from before a write that had completed (${stale.length} chars)`,
    };
  }
  // Lost write: an acknowledged append A missing from a read R that began after A completed,
  // where no put on the key could be ordered between them (none overlaps [A's call, R's
  // return]). Then A's token is in the key's value at R in every linearization.
  for (const append of random.shuffle(writes.filter((op) => op.f === 'append' && !op.info))) {
    const read = ops.find(
      (op) =>
        op.f === 'get' &&
        !op.info &&
        op.key === append.key &&
        op.invokeMs > append.completeMs &&
        op.output!.includes(append.input!),
    );
    if (read === undefined) continue;
    const putBetween = writes.some(
      (w) =>
        w.f === 'put' &&
        w.key === append.key &&
        w.completeMs > append.invokeMs &&
        w.invokeMs < read.completeMs,
    );
    if (putBetween) continue;
    const changed = ops.map((op) =>
      op === read ? { ...op, output: op.output!.replace(append.input!, '') } : op,
    );
    return {
      ops: changed,
      description: `process ${append.process}'s acknowledged append ${JSON.stringify(append.input)} to key ${append.key} is missing from process ${read.process}'s later read`,
    };
  }
  return undefined;
}

function toEvents(ops: PlannedOp[]): HistoryEvent[] {
  const events: HistoryEvent[] = [];
  for (const op of ops) {
    events.push({
      process: op.process,
      type: 'invoke',
      f: op.f,
      key: op.key,
      value: op.input,
      timeMs: op.invokeMs,
    });
    events.push({
      process: op.process,
      type: op.info ? 'info' : 'ok',
      f: op.f,
      key: op.key,
      value: op.info ? null : op.output,
      timeMs: op.completeMs,
    });
  }
  // Stable: an invoke and a completion at the same instant keep the invoke first per op.
  return events.sort((a, b) => a.timeMs - b.timeMs);
}
