// Keyed state of a stream processor: named stores of JSON values, with every change since the
// last drain remembered so the runner can append it to a changelog topic (Kafka Streams'
// changelog: the log is the durable copy; the in-memory map is rebuilt by replaying it).
// Pure: no I/O here, the runner decides where changes go.

export type StateValue = unknown;

export interface StateChange {
  store: string;
  key: string;
  /** undefined: the key was deleted (a tombstone in the changelog). */
  value: StateValue | undefined;
}

export class StateStores {
  private readonly stores = new Map<string, Map<string, StateValue>>();
  private changes = new Map<string, StateChange>();

  private storeOf(store: string): Map<string, StateValue> {
    let s = this.stores.get(store);
    if (!s) {
      s = new Map();
      this.stores.set(store, s);
    }
    return s;
  }

  get<V = StateValue>(store: string, key: string): V | undefined {
    return this.stores.get(store)?.get(key) as V | undefined;
  }

  put(store: string, key: string, value: StateValue): void {
    this.storeOf(store).set(key, value);
    this.changes.set(`${store}\u0000${key}`, { store, key, value });
  }

  delete(store: string, key: string): void {
    if (!this.stores.get(store)?.has(key)) return;
    this.stores.get(store)!.delete(key);
    this.changes.set(`${store}\u0000${key}`, { store, key, value: undefined });
  }

  /** The entries of one store (a snapshot: safe to modify the store while iterating it). */
  entries<V = StateValue>(store: string): [string, V][] {
    return [...(this.stores.get(store)?.entries() ?? [])] as [string, V][];
  }

  storeNames(): string[] {
    return [...this.stores.keys()];
  }

  /** Changes since the last drain, the latest per key, in the order keys were first changed. */
  drainChanges(): StateChange[] {
    const out = [...this.changes.values()];
    this.changes = new Map();
    return out;
  }

  /** Applies a change read back from the changelog (restore): not recorded as a new change. */
  restore(change: StateChange): void {
    if (change.value === undefined) this.stores.get(change.store)?.delete(change.key);
    else this.storeOf(change.store).set(change.key, change.value);
  }

  /** Forgets uncommitted changes' record (after a crash the store is rebuilt anyway). */
  clearChanges(): void {
    this.changes = new Map();
  }
}

/** Changelog record key: store and key, separated by a NUL (neither may contain one). */
export function changelogKey(store: string, key: string): string {
  return `${store}\u0000${key}`;
}

export function parseChangelogKey(raw: string): { store: string; key: string } | null {
  const i = raw.indexOf('\u0000');
  return i < 0 ? null : { store: raw.slice(0, i), key: raw.slice(i + 1) };
}
