// A map CRDT (Riak's maps, simplified): which fields exist is an observed-remove set, and
// each field's value is a last-write-wins register. Merge merges both parts.
import type { NodeId } from '../version-vector.js';
import { type LwwRegister, mergeLww } from './lww-register.js';
import { addElement, emptySet, mergeSets, type OrSet, removeElement, setElements } from './or-set.js';

export interface OrMap {
  readonly fields: OrSet;
  readonly values: Readonly<Record<string, LwwRegister<string>>>;
}

export function emptyMap(): OrMap {
  return { fields: emptySet(), values: {} };
}

export function setField(map: OrMap, node: NodeId, field: string, value: string, wallMs: number): OrMap {
  const register = { value, wallMs, node };
  const current = map.values[field];
  return {
    fields: addElement(map.fields, node, field),
    values: sortedRecord({ ...map.values, [field]: current ? mergeLww(current, register) : register }),
  };
}

export function removeField(map: OrMap, field: string): OrMap {
  return { fields: removeElement(map.fields, field), values: map.values };
}

export function mergeMaps(a: OrMap, b: OrMap): OrMap {
  const values: Record<string, LwwRegister<string>> = { ...a.values };
  for (const [field, register] of Object.entries(b.values)) {
    const mine = values[field];
    values[field] = mine ? mergeLww(mine, register) : register;
  }
  return { fields: mergeSets(a.fields, b.fields), values: sortedRecord(values) };
}

export function mapEntries(map: OrMap): Record<string, string> {
  const out: Record<string, string> = {};
  for (const field of setElements(map.fields)) {
    const register = map.values[field];
    if (register) out[field] = register.value;
  }
  return out;
}

function sortedRecord<T>(record: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const key of Object.keys(record).sort()) out[key] = record[key] as T;
  return out;
}
