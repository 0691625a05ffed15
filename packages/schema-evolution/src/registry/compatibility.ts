// Compatibility levels: which earlier versions a new schema is checked against, and in which
// direction (DDIA ch. 4: backward compatibility = new code reads old data; forward
// compatibility = old code reads new data).

import { type Incompatibility, readerWriterIncompatibilities } from './avro-compatibility.js';
import type { AvroType } from './avro-schema.js';

export const COMPATIBILITY_LEVELS = [
  'NONE',
  'BACKWARD',
  'BACKWARD_TRANSITIVE',
  'FORWARD',
  'FORWARD_TRANSITIVE',
  'FULL',
  'FULL_TRANSITIVE',
] as const;
export type CompatibilityLevel = (typeof COMPATIBILITY_LEVELS)[number];
export const DEFAULT_COMPATIBILITY: CompatibilityLevel = 'BACKWARD';

export const MODES = ['READWRITE', 'READONLY', 'IMPORT'] as const;
export type Mode = (typeof MODES)[number];
export const DEFAULT_MODE: Mode = 'READWRITE';

export function parseCompatibilityLevel(text: unknown): CompatibilityLevel | undefined {
  if (typeof text !== 'string') return undefined;
  const upper = text.toUpperCase();
  return (COMPATIBILITY_LEVELS as readonly string[]).includes(upper)
    ? (upper as CompatibilityLevel)
    : undefined;
}

export function parseMode(text: unknown): Mode | undefined {
  if (typeof text !== 'string') return undefined;
  const upper = text.toUpperCase();
  return (MODES as readonly string[]).includes(upper) ? (upper as Mode) : undefined;
}

export interface PreviousVersion {
  version: number;
  type: AvroType;
}

export interface CompatibilityProblem extends Incompatibility {
  /** The earlier version the new schema failed against. */
  version: number;
  /** `reader` when the new schema cannot read the old data, `writer` when old readers cannot read it. */
  newSchemaRole: 'reader' | 'writer';
}

/**
 * Checks `candidate` against `previous` (oldest first) under `level`. Non-transitive levels
 * look only at the latest version; transitive ones at every live version.
 */
export function checkCompatibility(
  level: CompatibilityLevel,
  candidate: AvroType,
  previous: readonly PreviousVersion[],
): CompatibilityProblem[] {
  if (level === 'NONE' || previous.length === 0) return [];
  const transitive = level.endsWith('_TRANSITIVE');
  const against = transitive ? [...previous].reverse() : [previous[previous.length - 1]];
  const backward = level.startsWith('BACKWARD') || level.startsWith('FULL');
  const forward = level.startsWith('FORWARD') || level.startsWith('FULL');
  const out: CompatibilityProblem[] = [];
  for (const old of against) {
    if (backward) {
      for (const p of readerWriterIncompatibilities(candidate, old.type))
        out.push({ ...p, version: old.version, newSchemaRole: 'reader' });
    }
    if (forward) {
      for (const p of readerWriterIncompatibilities(old.type, candidate))
        out.push({ ...p, version: old.version, newSchemaRole: 'writer' });
    }
  }
  return out;
}
