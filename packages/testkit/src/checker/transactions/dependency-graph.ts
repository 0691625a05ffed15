// The dependency graph of transactions and the cycle searches over it. Following Elle, cycles
// are found per strongly connected component, by breadth-first search for the shortest path
// that closes a chosen edge, restricted to the edge types an anomaly allows (Adya's G0: ww
// only; G1c: ww and wr; G-single: exactly one rw; G2-item: any, with rw).

import type { DependencyEdge, DependencyType } from './transaction.js';

/** Bounds the work per component: BFS attempts per anomaly type. */
const SEARCH_ATTEMPTS_MAX = 2_000;

export class DependencyGraph {
  /** out[from] = edges leaving `from` (at most one per (to, type)). */
  private readonly out: Map<number, DependencyEdge[]> = new Map();
  private readonly seen = new Set<string>();
  readonly counts: Record<DependencyType, number> = { ww: 0, wr: 0, rw: 0, rt: 0 };

  add(edge: DependencyEdge): void {
    if (edge.from === edge.to) return; // a transaction's own reads and writes order nothing
    const id = `${edge.from}>${edge.to}>${edge.type}`;
    if (this.seen.has(id)) return;
    this.seen.add(id);
    let list = this.out.get(edge.from);
    if (list === undefined) this.out.set(edge.from, (list = []));
    list.push(edge);
    this.counts[edge.type]++;
  }

  edgesFrom(node: number): readonly DependencyEdge[] {
    return this.out.get(node) ?? [];
  }

  nodes(): number[] {
    const all = new Set<number>();
    for (const [from, edges] of this.out) {
      all.add(from);
      for (const e of edges) all.add(e.to);
    }
    return [...all].sort((a, b) => a - b);
  }

  /** Strongly connected components with more than one node (Tarjan, iterative). */
  components(allowed: ReadonlySet<DependencyType>): number[][] {
    const index = new Map<number, number>();
    const low = new Map<number, number>();
    const onStack = new Set<number>();
    const stack: number[] = [];
    const result: number[][] = [];
    let counter = 0;
    for (const root of this.nodes()) {
      if (index.has(root)) continue;
      const work: { node: number; edge: number }[] = [{ node: root, edge: 0 }];
      index.set(root, counter);
      low.set(root, counter++);
      stack.push(root);
      onStack.add(root);
      while (work.length > 0) {
        const frame = work[work.length - 1];
        const edges = this.edgesFrom(frame.node);
        if (frame.edge < edges.length) {
          const e = edges[frame.edge++];
          if (!allowed.has(e.type)) continue;
          if (!index.has(e.to)) {
            index.set(e.to, counter);
            low.set(e.to, counter++);
            stack.push(e.to);
            onStack.add(e.to);
            work.push({ node: e.to, edge: 0 });
          } else if (onStack.has(e.to)) {
            low.set(frame.node, Math.min(low.get(frame.node)!, index.get(e.to)!));
          }
          continue;
        }
        work.pop();
        if (work.length > 0) {
          const parent = work[work.length - 1].node;
          low.set(parent, Math.min(low.get(parent)!, low.get(frame.node)!));
        }
        if (low.get(frame.node) === index.get(frame.node)) {
          const component: number[] = [];
          let node: number;
          do {
            node = stack.pop()!;
            onStack.delete(node);
            component.push(node);
          } while (node !== frame.node);
          if (component.length > 1) result.push(component.sort((a, b) => a - b));
        }
      }
    }
    return result;
  }

  /**
   * The shortest cycle through one of the `through` edges (tried in order) that otherwise uses
   * only `allowed` edge types inside `component`. With `mustInclude`, the closing path has to
   * contain at least one edge of that type (a BFS over (node, seen-it) pairs).
   */
  findCycle(
    component: ReadonlySet<number>,
    through: DependencyType,
    allowed: ReadonlySet<DependencyType>,
    mustInclude?: DependencyType,
  ): DependencyEdge[] | undefined {
    let attempts = 0;
    for (const from of component) {
      for (const first of this.edgesFrom(from)) {
        if (first.type !== through || !component.has(first.to)) continue;
        if (++attempts > SEARCH_ATTEMPTS_MAX) return undefined;
        const path = this.shortestPath(first.to, first.from, component, allowed, mustInclude);
        // The layered search may revisit a node; only a simple cycle is an instance of one anomaly.
        if (path !== undefined && new Set(path.map((e) => e.from)).size === path.length)
          return [first, ...path];
      }
    }
    return undefined;
  }

  private shortestPath(
    start: number,
    goal: number,
    component: ReadonlySet<number>,
    allowed: ReadonlySet<DependencyType>,
    mustInclude?: DependencyType,
  ): DependencyEdge[] | undefined {
    // State = node and whether a `mustInclude` edge has been crossed (always true without one).
    const startState = `${start}:${mustInclude === undefined ? 1 : 0}`;
    const parent = new Map<string, { state: string; edge: DependencyEdge } | null>([[startState, null]]);
    let frontier = [startState];
    while (frontier.length > 0) {
      const next: string[] = [];
      for (const state of frontier) {
        const [nodeText, flag] = state.split(':');
        const node = Number(nodeText);
        if (node === goal && flag === '1') {
          const path: DependencyEdge[] = [];
          let cursor: string = state;
          for (
            let step = parent.get(cursor);
            step !== null && step !== undefined;
            step = parent.get(cursor)
          ) {
            path.push(step.edge);
            cursor = step.state;
          }
          return path.reverse();
        }
        for (const e of this.edgesFrom(node)) {
          if (!allowed.has(e.type) || !component.has(e.to)) continue;
          const seenFlag = flag === '1' || e.type === mustInclude ? '1' : '0';
          if (e.to === goal && seenFlag === '0') continue; // passing the goal would close a smaller cycle
          const to = `${e.to}:${seenFlag}`;
          if (parent.has(to)) continue;
          parent.set(to, { state, edge: e });
          next.push(to);
        }
      }
      frontier = next;
    }
    return undefined;
  }
}
