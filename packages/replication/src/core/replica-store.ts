// A replica's keys: each key's state, and a hash of it for the Merkle trees. Every change goes
// through merge (a join), so applying the same state twice, or states in any order, is harmless.
import { canonicalJson, type KeyState, mergeStates } from './key-state.js';
import { hashText } from './placement.js';

export interface StoredKey {
  readonly state: KeyState;
  readonly hash: number;
}

export class ReplicaStore {
  private readonly keys = new Map<string, StoredKey>();
  /** Bumped on every change: lets callers cache what they derived (Merkle trees). */
  version = 0;

  get(key: string): KeyState | undefined {
    return this.keys.get(key)?.state;
  }

  hashOf(key: string): number | undefined {
    return this.keys.get(key)?.hash;
  }

  /** Merges `state` into the key; true when the stored state changed. */
  merge(key: string, state: KeyState): boolean {
    const current = this.keys.get(key);
    const merged = current ? mergeStates(current.state, state) : state;
    const hash = hashText(canonicalJson(merged));
    if (current && current.hash === hash) return false;
    this.keys.set(key, { state: merged, hash });
    this.version++;
    return true;
  }

  /** Replaces the key's state (tombstone collection only: it removes, which merge cannot). */
  replace(key: string, state: KeyState): void {
    this.keys.set(key, { state, hash: hashText(canonicalJson(state)) });
    this.version++;
  }

  entries(): IterableIterator<[string, StoredKey]> {
    return this.keys.entries();
  }

  get size(): number {
    return this.keys.size;
  }
}
