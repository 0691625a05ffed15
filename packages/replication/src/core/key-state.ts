// What a replica stores for one key, and the one merge every replication style uses. A key
// holds one data type, chosen by its first write:
//   mv       multi-value register: siblings with dotted version vectors (Riak's default)
//   lww      last-write-wins register: Cassandra's policy, loses concurrent and skewed writes
//   counter  PN-counter, set: OR-set, map: OR-map of LWW registers (CRDTs, DDIA ch. 5
//            "Automatic conflict resolution")
// A delete of an mv or lww key is a tombstone: a value like any other until its grace period ends.

import { type LwwRegister, mergeLww } from './crdt/lww-register.js';
import { emptyMap, mapEntries, mergeMaps, type OrMap, removeField, setField } from './crdt/or-map.js';
import { addElement, emptySet, mergeSets, type OrSet, removeElement, setElements } from './crdt/or-set.js';
import {
  counterValue,
  emptyCounter,
  incrementCounter,
  mergeCounters,
  type PnCounter,
} from './crdt/pn-counter.js';
import { type DotStore, emptyDotStore, mergeDotStores, removeWhere, writeSeen } from './dot-store.js';
import { ReplicationErrors, replicationError } from './errors.js';
import type { NodeId, VersionVector } from './version-vector.js';

export const KEY_TYPES = ['mv', 'lww', 'counter', 'set', 'map'] as const;
export type KeyType = (typeof KEY_TYPES)[number];

/** A sibling's value; null is a tombstone. `wallMs` is when it was written (grace periods). */
export interface Sibling {
  readonly value: string | null;
  readonly wallMs: number;
}

export type KeyState =
  | { readonly type: 'mv'; readonly store: DotStore<Sibling> }
  | { readonly type: 'lww'; readonly register: LwwRegister<string | null> }
  | { readonly type: 'counter'; readonly counter: PnCounter }
  | { readonly type: 'set'; readonly set: OrSet }
  | { readonly type: 'map'; readonly map: OrMap };

export type Mutation =
  | {
      readonly op: 'put';
      readonly value: string;
      readonly context: VersionVector | null;
      readonly type: 'mv' | 'lww';
    }
  | { readonly op: 'delete'; readonly context: VersionVector | null; readonly type: 'mv' | 'lww' }
  | { readonly op: 'increment'; readonly amount: number }
  | { readonly op: 'add'; readonly element: string }
  | { readonly op: 'remove'; readonly element: string }
  | { readonly op: 'setField'; readonly field: string; readonly value: string }
  | { readonly op: 'removeField'; readonly field: string };

export function mutationType(mutation: Mutation): KeyType {
  switch (mutation.op) {
    case 'put':
    case 'delete':
      return mutation.type;
    case 'increment':
      return 'counter';
    case 'add':
    case 'remove':
      return 'set';
    case 'setField':
    case 'removeField':
      return 'map';
  }
}

function emptyState(type: KeyType): KeyState {
  switch (type) {
    case 'mv':
      return { type, store: emptyDotStore() };
    case 'lww':
      return { type, register: { value: null, wallMs: -1, node: '' } };
    case 'counter':
      return { type, counter: emptyCounter() };
    case 'set':
      return { type, set: emptySet() };
    case 'map':
      return { type: 'map', map: emptyMap() };
  }
}

/**
 * Applies a client's mutation at replica `node` whose clock reads `wallMs`. Only a replica that
 * holds the key's whole history may do this (it mints dots). Throws typeMismatch when the key
 * already holds another type.
 */
export function applyMutation(
  state: KeyState | undefined,
  mutation: Mutation,
  node: NodeId,
  wallMs: number,
): KeyState {
  const type = mutationType(mutation);
  const current = state ?? emptyState(type);
  if (current.type !== type) {
    throw replicationError(
      ReplicationErrors.typeMismatch,
      `the key holds a ${current.type}, this request writes a ${type}`,
    );
  }
  switch (mutation.op) {
    case 'put':
    case 'delete': {
      const value = mutation.op === 'put' ? mutation.value : null;
      if (current.type === 'lww') {
        // Cassandra's rule: the write is stamped with this node's clock and merged like any
        // replica's copy, so a write stamped earlier than the stored one vanishes.
        return { type: 'lww', register: mergeLww(current.register, { value, wallMs, node }) };
      }
      if (current.type !== 'mv') break;
      // A write without a context has seen nothing: it becomes a sibling of every stored value.
      return {
        type: 'mv',
        store: writeSeen(current.store, node, mutation.context ?? {}, [{ value, wallMs }]),
      };
    }
    case 'increment':
      if (current.type === 'counter')
        return { type: 'counter', counter: incrementCounter(current.counter, node, mutation.amount) };
      break;
    case 'add':
      if (current.type === 'set')
        return { type: 'set', set: addElement(current.set, node, mutation.element) };
      break;
    case 'remove':
      if (current.type === 'set') return { type: 'set', set: removeElement(current.set, mutation.element) };
      break;
    case 'setField':
      if (current.type === 'map')
        return { type: 'map', map: setField(current.map, node, mutation.field, mutation.value, wallMs) };
      break;
    case 'removeField':
      if (current.type === 'map') return { type: 'map', map: removeField(current.map, mutation.field) };
      break;
  }
  throw replicationError(
    ReplicationErrors.typeMismatch,
    `${mutation.op} does not apply to a ${current.type}`,
  );
}

/**
 * The join of two replicas' states. Two different types for one key (two first writes of
 * different types, concurrently) resolve to the later type in KEY_TYPES, so replicas agree.
 */
export function mergeStates(a: KeyState, b: KeyState): KeyState {
  if (a.type !== b.type) return KEY_TYPES.indexOf(a.type) > KEY_TYPES.indexOf(b.type) ? a : b;
  switch (a.type) {
    case 'mv':
      return { type: 'mv', store: mergeDotStores(a.store, (b as typeof a).store) };
    case 'lww':
      return { type: 'lww', register: mergeLww(a.register, (b as typeof a).register) };
    case 'counter':
      return { type: 'counter', counter: mergeCounters(a.counter, (b as typeof a).counter) };
    case 'set':
      return { type: 'set', set: mergeSets(a.set, (b as typeof a).set) };
    case 'map':
      return { type: 'map', map: mergeMaps(a.map, (b as typeof a).map) };
  }
}

export function mergeMaybe(a: KeyState | undefined, b: KeyState | undefined): KeyState | undefined {
  if (!a) return b;
  if (!b) return a;
  return mergeStates(a, b);
}

/** What a client sees of a key. */
export interface KeyView {
  type: KeyType;
  /** Live values: several are siblings (mv only). Empty when deleted or absent. */
  values: string[];
  /** True when the only versions left are tombstones. */
  deleted: boolean;
  /** Number of siblings including tombstones (mv). */
  siblings: number;
  /** The causal context to send back with the next write (mv; {} for other types). */
  context: VersionVector;
  counter?: number;
  elements?: string[];
  fields?: Record<string, string>;
}

export function viewOf(state: KeyState): KeyView {
  switch (state.type) {
    case 'mv': {
      const live = state.store.entries.filter((e) => e.value.value !== null);
      return {
        type: 'mv',
        values: live.map((e) => e.value.value as string),
        deleted: live.length === 0,
        siblings: state.store.entries.length,
        context: state.store.context,
      };
    }
    case 'lww': {
      const value = state.register.value;
      return {
        type: 'lww',
        values: value === null ? [] : [value],
        deleted: value === null,
        siblings: 1,
        context: {},
      };
    }
    case 'counter':
      return {
        type: 'counter',
        values: [],
        deleted: false,
        siblings: 1,
        context: {},
        counter: counterValue(state.counter),
      };
    case 'set':
      return {
        type: 'set',
        values: [],
        deleted: false,
        siblings: 1,
        context: {},
        elements: setElements(state.set),
      };
    case 'map':
      return {
        type: 'map',
        values: [],
        deleted: false,
        siblings: 1,
        context: {},
        fields: mapEntries(state.map),
      };
  }
}

/**
 * Tombstone collection after the grace period (Cassandra's gc_grace_seconds): tombstones older
 * than `graceMs` are dropped from the siblings. The context stays, so a replica that missed the
 * delete cannot bring the value back (a Cassandra replica down longer than the grace period
 * can: it keeps no vector). Returns the state unchanged when nothing is due.
 */
export function collectTombstones(state: KeyState, nowWallMs: number, graceMs: number): KeyState {
  if (state.type !== 'mv') return state;
  const due = (s: Sibling) => s.value === null && nowWallMs - s.wallMs >= graceMs;
  if (!state.store.entries.some((e) => due(e.value))) return state;
  return { type: 'mv', store: removeWhere(state.store, due) };
}

/** A state with nothing left to say but its clock: safe to keep small. */
export function isEmptyState(state: KeyState): boolean {
  return state.type === 'mv' && state.store.entries.length === 0;
}

/** JSON with sorted keys: equal states give equal text (hashes, Merkle trees, tests). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const sorted: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
      return sorted;
    }
    return v;
  });
}

export function statesEqual(a: KeyState | undefined, b: KeyState | undefined): boolean {
  if (!a || !b) return a === b;
  return canonicalJson(a) === canonicalJson(b);
}
