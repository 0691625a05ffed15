// The inverted index of a time-series database: every series gets a dense id, and for each
// label name and value a posting list of the ids carrying it (Prometheus's index, like a
// search engine's). A selector becomes an intersection of posting lists.
import { type Labels, labelsKey } from './labels.js';
import type { Matcher } from './matchers.js';

export class SeriesIndex {
  private readonly byKey = new Map<string, number>();
  private readonly labelsById: Labels[] = [];
  /** name → value → ids (ascending, since ids are handed out in order). */
  private readonly postings = new Map<string, Map<string, number[]>>();

  get size(): number {
    return this.labelsById.length;
  }

  /** The id of `labels`, adding the series if new. Labels must be normalized; `key` is
   *  labelsKey(labels) when the caller has it already. */
  getOrAdd(labels: Labels, key = labelsKey(labels)): { id: number; created: boolean } {
    const found = this.byKey.get(key);
    if (found !== undefined) return { id: found, created: false };
    const id = this.labelsById.length;
    this.labelsById.push(labels);
    this.byKey.set(key, id);
    for (const [name, value] of labels) {
      let values = this.postings.get(name);
      if (!values) this.postings.set(name, (values = new Map()));
      const list = values.get(value);
      if (list) list.push(id);
      else values.set(value, [id]);
    }
    return { id, created: true };
  }

  idOf(labels: Labels): number | undefined {
    return this.byKey.get(labelsKey(labels));
  }

  labels(id: number): Labels {
    return this.labelsById[id]!;
  }

  labelNames(): string[] {
    return [...this.postings.keys()].sort();
  }

  labelValues(name: string): string[] {
    return [...(this.postings.get(name)?.keys() ?? [])].sort();
  }

  /**
   * Ids of the series matching every matcher, ascending. A matcher that accepts the empty
   * string also accepts series without that label (Prometheus's semantics: {a=""} means "no a").
   */
  select(matchers: readonly Matcher[]): number[] {
    let result: Set<number> | null = null;
    // Matchers that need a value narrow the candidates first; cheap ones go first.
    const ordered = [...matchers].sort((a, b) => rank(a) - rank(b));
    for (const m of ordered) {
      const values = this.postings.get(m.name);
      const allowed = new Set<number>();
      if (m.matches('')) {
        // Every series except those whose value for this label does not match.
        const excluded = new Set<number>();
        for (const [value, ids] of values ?? [])
          if (!m.matches(value)) for (const id of ids) excluded.add(id);
        const base: Iterable<number> = result ?? this.labelsById.keys();
        for (const id of base) if (!excluded.has(id)) allowed.add(id);
      } else if (m.type === '=') {
        for (const id of values?.get(m.value) ?? []) if (!result || result.has(id)) allowed.add(id);
      } else {
        for (const [value, ids] of values ?? [])
          if (m.matches(value)) for (const id of ids) if (!result || result.has(id)) allowed.add(id);
      }
      result = allowed;
      if (result.size === 0) break;
    }
    return [...(result ?? this.labelsById.keys())].sort((a, b) => a - b);
  }
}

function rank(m: Matcher): number {
  if (m.type === '=' && m.value !== '') return 0;
  if (m.type === '=~') return 1;
  return 2;
}
