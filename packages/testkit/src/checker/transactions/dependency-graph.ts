// The dependency graph of transactions and the cycle searches over it. Following Elle, cycles
// are found per strongly connected component (Tarjan), by breadth-first search for the shortest
// path that closes a chosen edge, restricted to the edge types an anomaly allows (Adya's G0: ww
// only; G1c: ww and wr; G-single: exactly one rw; G2-item: any, with rw).
//
// Histories of millions of operations make millions of edges, so edges live in typed arrays
// (compressed sparse rows, built once after inference) and carry no text: why an edge exists
// is written only for the edges of a reported cycle, by the `explain` callback the inferrer sets.

import type { DependencyEdge, DependencyType } from './transaction.js';

/** Bounds the work per anomaly type and component: BFS starts, and nodes visited in all. */
const SEARCH_ATTEMPTS_MAX = 2_000;
const SEARCH_VISITS_MAX = 4_000_000;

export const DEPENDENCY_TYPES: readonly DependencyType[] = ['ww', 'wr', 'rw', 'rt'];
const TYPE_CODE: Record<DependencyType, number> = { ww: 0, wr: 1, rw: 2, rt: 3 };

/** An edge without its explanation: what the searches work with. */
export interface RawEdge {
  from: number;
  to: number;
  type: DependencyType;
  key?: string;
}

function maskOf(types: ReadonlySet<DependencyType>): number {
  let mask = 0;
  for (const t of types) mask |= 1 << TYPE_CODE[t];
  return mask;
}

export class DependencyGraph {
  readonly counts: Record<DependencyType, number> = { ww: 0, wr: 0, rw: 0, rt: 0 };
  /** Writes the `why` of a reported edge; the inferrer knows the values involved. */
  explain: (edge: RawEdge) => string = (e) => `${e.type}${e.key === undefined ? '' : ` on ${e.key}`}`;

  private size = 0;
  private from = new Int32Array(1024);
  private to = new Int32Array(1024);
  private type = new Uint8Array(1024);
  private key = new Int32Array(1024);
  private readonly keyIds = new Map<string, number>();
  private readonly keyNames: string[] = [];
  // Compressed sparse rows, rebuilt when edges were added since the last query.
  private built = false;
  private rowStart = new Int32Array(1);
  private edgeOrder = new Int32Array(0);

  constructor(readonly nodeCount: number) {}

  add(from: number, to: number, type: DependencyType, key?: string): void {
    if (from === to) return; // a transaction's own reads and writes order nothing
    if (this.size === this.from.length) this.grow();
    const i = this.size++;
    this.from[i] = from;
    this.to[i] = to;
    this.type[i] = TYPE_CODE[type];
    let keyId = -1;
    if (key !== undefined) {
      keyId = this.keyIds.get(key) ?? -1;
      if (keyId < 0) {
        keyId = this.keyNames.length;
        this.keyIds.set(key, keyId);
        this.keyNames.push(key);
      }
    }
    this.key[i] = keyId;
    this.built = false;
  }

  private grow(): void {
    const n = this.from.length * 2;
    this.from = grown(this.from, n);
    this.to = grown(this.to, n);
    this.type = grown(this.type, n);
    this.key = grown(this.key, n);
  }

  /** Counting sort by source node, dropping repeated (from, to, type) edges; recounts types. */
  private build(): void {
    if (this.built) return;
    const n = this.nodeCount;
    const counts = new Int32Array(n + 1);
    for (let i = 0; i < this.size; i++) counts[this.from[i] + 1]++;
    for (let v = 0; v < n; v++) counts[v + 1] += counts[v];
    const order = new Int32Array(this.size);
    const fill = counts.slice(0, n);
    for (let i = 0; i < this.size; i++) order[fill[this.from[i]]++] = i;
    // Deduplicate within each row: stamp[to * 4 + type] holds the last row that had it, plus one.
    const stamp = new Int32Array(n * 4);
    const rowStart = new Int32Array(n + 1);
    const kept = new Int32Array(this.size);
    let out = 0;
    const typeCounts = [0, 0, 0, 0];
    for (let v = 0; v < n; v++) {
      rowStart[v] = out;
      for (let j = counts[v]; j < counts[v + 1]; j++) {
        const e = order[j];
        const slot = this.to[e] * 4 + this.type[e];
        if (stamp[slot] === v + 1) continue;
        stamp[slot] = v + 1;
        kept[out++] = e;
        typeCounts[this.type[e]]++;
      }
    }
    rowStart[n] = out;
    this.rowStart = rowStart;
    this.edgeOrder = kept.subarray(0, out);
    DEPENDENCY_TYPES.forEach((t, code) => {
      this.counts[t] = typeCounts[code];
    });
    this.built = true;
  }

  /** Freezes the graph for counting (edges added later rebuild it). */
  finish(): void {
    this.build();
  }

  private raw(e: number): RawEdge {
    const edge: RawEdge = { from: this.from[e], to: this.to[e], type: DEPENDENCY_TYPES[this.type[e]] };
    if (this.key[e] >= 0) edge.key = this.keyNames[this.key[e]];
    return edge;
  }

  /** Every edge leaving `node`, explained (for tests and small graphs). */
  edgesFrom(node: number): DependencyEdge[] {
    this.build();
    const edges: DependencyEdge[] = [];
    for (let j = this.rowStart[node]; j < this.rowStart[node + 1]; j++)
      edges.push(this.explained(this.edgeOrder[j]));
    return edges;
  }

  private explained(e: number): DependencyEdge {
    const raw = this.raw(e);
    return { ...raw, why: this.explain(raw) };
  }

  /** Strongly connected components with more than one node (Tarjan, iterative, typed arrays). */
  components(allowed: ReadonlySet<DependencyType>): number[][] {
    this.build();
    const mask = maskOf(allowed);
    const n = this.nodeCount;
    const index = new Int32Array(n).fill(-1);
    const low = new Int32Array(n);
    const onStack = new Uint8Array(n);
    const stack = new Int32Array(n);
    let stackTop = 0;
    const workNode = new Int32Array(n);
    const workEdge = new Int32Array(n);
    const result: number[][] = [];
    let counter = 0;
    const { rowStart, edgeOrder, type, to } = this;
    for (let root = 0; root < n; root++) {
      if (index[root] >= 0 || rowStart[root] === rowStart[root + 1]) continue;
      let depth = 0;
      workNode[0] = root;
      workEdge[0] = rowStart[root];
      index[root] = low[root] = counter++;
      stack[stackTop++] = root;
      onStack[root] = 1;
      while (depth >= 0) {
        const node = workNode[depth];
        if (workEdge[depth] < rowStart[node + 1]) {
          const e = edgeOrder[workEdge[depth]++];
          if (((1 << type[e]) & mask) === 0) continue;
          const next = to[e];
          if (index[next] < 0) {
            index[next] = low[next] = counter++;
            stack[stackTop++] = next;
            onStack[next] = 1;
            depth++;
            workNode[depth] = next;
            workEdge[depth] = rowStart[next];
          } else if (onStack[next] === 1 && index[next] < low[node]) {
            low[node] = index[next];
          }
          continue;
        }
        depth--;
        if (depth >= 0) {
          const parent = workNode[depth];
          if (low[node] < low[parent]) low[parent] = low[node];
        }
        if (low[node] === index[node]) {
          const component: number[] = [];
          let member: number;
          do {
            member = stack[--stackTop];
            onStack[member] = 0;
            component.push(member);
          } while (member !== node);
          if (component.length > 1) result.push(component.sort((a, b) => a - b));
        }
      }
    }
    return result;
  }

  /**
   * The shortest cycle through one of the `through` edges that otherwise uses only `allowed`
   * edge types inside `component`. With `mustInclude`, the closing path has to contain at least
   * one edge of that type (a BFS over (node, seen-it) pairs). Undefined when none was found
   * within the search bounds.
   */
  findCycle(
    component: ReadonlySet<number>,
    through: DependencyType,
    allowed: ReadonlySet<DependencyType>,
    mustInclude?: DependencyType,
  ): DependencyEdge[] | undefined {
    this.build();
    const mask = maskOf(allowed);
    const throughCode = TYPE_CODE[through];
    const budget = { attempts: 0, visits: 0 };
    for (const from of component) {
      for (let j = this.rowStart[from]; j < this.rowStart[from + 1]; j++) {
        const first = this.edgeOrder[j];
        if (this.type[first] !== throughCode || !component.has(this.to[first])) continue;
        if (++budget.attempts > SEARCH_ATTEMPTS_MAX || budget.visits > SEARCH_VISITS_MAX) return undefined;
        const path = this.shortestPath(this.to[first], from, component, mask, mustInclude, budget);
        // The layered search may revisit a node; only a simple cycle is an instance of one anomaly.
        if (path === undefined) continue;
        const cycle = [first, ...path];
        if (new Set(cycle.map((e) => this.from[e])).size !== cycle.length) continue;
        return cycle.map((e) => this.explained(e));
      }
    }
    return undefined;
  }

  private shortestPath(
    start: number,
    goal: number,
    component: ReadonlySet<number>,
    mask: number,
    mustInclude: DependencyType | undefined,
    budget: { visits: number },
  ): number[] | undefined {
    const mustCode = mustInclude === undefined ? -1 : TYPE_CODE[mustInclude];
    // State = node * 2 + (a mustInclude edge crossed ? 1 : 0); always 1 without one.
    const startState = start * 2 + (mustCode < 0 ? 1 : 0);
    const parentEdge = new Map<number, number>([[startState, -1]]);
    const parentState = new Map<number, number>();
    let frontier = [startState];
    while (frontier.length > 0) {
      const next: number[] = [];
      for (const state of frontier) {
        const node = state >> 1;
        const flag = state & 1;
        if (node === goal && flag === 1) {
          const path: number[] = [];
          for (let s = state; parentEdge.get(s) !== -1; s = parentState.get(s)!)
            path.push(parentEdge.get(s)!);
          return path.reverse();
        }
        if (++budget.visits > SEARCH_VISITS_MAX) return undefined;
        for (let j = this.rowStart[node]; j < this.rowStart[node + 1]; j++) {
          const e = this.edgeOrder[j];
          const code = this.type[e];
          const to = this.to[e];
          if (((1 << code) & mask) === 0 || !component.has(to)) continue;
          const seen = flag === 1 || code === mustCode ? 1 : 0;
          if (to === goal && seen === 0) continue; // passing the goal would close a smaller cycle
          const toState = to * 2 + seen;
          if (parentEdge.has(toState)) continue;
          parentEdge.set(toState, e);
          parentState.set(toState, state);
          next.push(toState);
        }
      }
      frontier = next;
    }
    return undefined;
  }
}

/** A copy of `array` with room for `length` elements. */
function grown<A extends Int32Array | Uint8Array>(array: A, length: number): A {
  const bigger = new (array.constructor as new (length: number) => A)(length);
  bigger.set(array);
  return bigger;
}
