// The keys a document contributes to an index: one per combination of the indexed fields'
// values, where an array contributes one key per element (a multikey index, MongoDB's way to
// index arrays). Missing fields index as null, so {field: null} can use the index.
import { DocErrors, fail } from './errors.js';
import { concatBytes, encodeValue } from './key-encoding.js';
import { lookupLeaves, splitPath } from './path.js';
import { compareValues, type Doc } from './values.js';

export type KeyPattern = [path: string, direction: 1 | -1][];

export interface IndexSpec {
  name: string;
  key: KeyPattern;
  unique: boolean;
  sparse: boolean;
}

/** The most keys one document may add to one index (MongoDB bounds this too, by key size). */
export const INDEX_KEYS_PER_DOC_MAX = 10_000;

export interface DocKeys {
  /** Each key as the encoded field values, in index order (the _id suffix is added by storage). */
  keys: Uint8Array[];
  /** True when some field held an array. */
  multikey: boolean;
}

function fieldValues(doc: Doc, path: string): { values: unknown[]; array: boolean; present: boolean } {
  const leaves = lookupLeaves(doc, splitPath(path));
  const values: unknown[] = [];
  let array = false;
  let present = false;
  for (const leaf of leaves) {
    if (leaf.value !== undefined) present = true;
    if (Array.isArray(leaf.value)) {
      array = true;
      if (leaf.value.length === 0) values.push(null);
      for (const element of leaf.value) values.push(element ?? null);
    } else values.push(leaf.value ?? null);
  }
  if (leaves.length > 1) array = true;
  if (values.length === 0) values.push(null);
  // One key per distinct value.
  const distinct: unknown[] = [];
  for (const v of values) if (!distinct.some((d) => compareValues(d, v) === 0)) distinct.push(v);
  return { values: distinct, array, present };
}

export function indexKeys(doc: Doc, spec: IndexSpec): DocKeys {
  const fields = spec.key.map(([path]) => fieldValues(doc, path));
  if (spec.sparse && !fields.some((f) => f.present)) return { keys: [], multikey: false };
  const arrays = fields.filter((f) => f.array).length;
  if (arrays > 1) {
    fail(
      DocErrors.cannotIndexParallelArrays,
      `cannot index parallel arrays [${spec.key.map(([p]) => p).join(', ')}] in index ${spec.name}`,
    );
  }
  let keys: Uint8Array[] = [new Uint8Array(0)];
  spec.key.forEach(([, direction], i) => {
    const next: Uint8Array[] = [];
    for (const prefix of keys) {
      for (const value of fields[i]!.values) next.push(concatBytes(prefix, encodeValue(value, direction)));
    }
    keys = next;
  });
  if (keys.length > INDEX_KEYS_PER_DOC_MAX)
    fail(DocErrors.badValue, `a document would add ${keys.length} keys to index ${spec.name}`);
  return { keys, multikey: arrays > 0 };
}
