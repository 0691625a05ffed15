// checkLostWrites: after the faults heal, are all acknowledged writes still there? (DDIA ch. 5
// "Handling node outages", ch. 9: a write the system acknowledged must not vanish, e.g. when a
// leader fails over to a follower that never received it.)
//
// Semantics, per key (operations without a key belong to the key ''):
// - append (list or string): every acknowledged append must appear in the final value, an
//   element of the final list, or a substring of the final string. Each missing one is lost.
// - put / write / cas (overwriting): only the last word survives, so the acknowledged writes
//   that no other acknowledged write follows in real time (the "last acknowledged writes") are
//   the candidates. The final value must be written by one of them, or by some write (any
//   status but fail) that does not precede all of them in real time; otherwise every last
//   acknowledged write is reported lost. `delete` counts as writing the key's absent value.
// - A final value that no write produced (and is not the initial value) is reported as
//   unexplained.

import type { HistoryEvent, Operation } from '../history/event.js';
import { toOperations } from '../history/operations.js';
import { casArgument, sameValue } from './model.js';

export interface LostWrite {
  key: string;
  operation: Operation;
  /** The value that should be visible. */
  expected: unknown;
  finalValue: unknown;
  reason: string;
}

export interface LostWritesResult {
  valid: boolean;
  /** Acknowledged (ok) writes looked at. */
  acknowledgedCount: number;
  lost: LostWrite[];
  /** Keys whose final value no write produced. */
  unexplained: { key: string; finalValue: unknown }[];
  /** Keys with acknowledged writes but no final read. */
  unread: string[];
}

export interface LostWritesOptions {
  /** What a key reads as before any write / after delete (null unless told otherwise). */
  initialValue?: unknown;
}

const OVERWRITES = new Set(['put', 'write', 'cas', 'delete']);

export type FinalReads = ReadonlyMap<string, unknown> | Readonly<Record<string, unknown>>;

function writtenValue(op: Operation, initialValue: unknown): unknown {
  if (op.f === 'cas') return casArgument(op.input)?.to;
  if (op.f === 'delete') return initialValue;
  return op.input;
}

function contains(finalValue: unknown, element: unknown): boolean {
  if (Array.isArray(finalValue)) return finalValue.some((v) => sameValue(v, element));
  if (typeof finalValue === 'string' && typeof element === 'string') return finalValue.includes(element);
  return false;
}

export function checkLostWrites(
  history: readonly HistoryEvent[],
  finalReads: FinalReads,
  options: LostWritesOptions = {},
): LostWritesResult {
  const initialValue = options.initialValue ?? null;
  const finals = finalReads instanceof Map ? finalReads : new Map(Object.entries(finalReads));
  const byKey = new Map<string, Operation[]>();
  for (const op of toOperations(history)) {
    if (op.status === 'fail' || (op.f !== 'append' && !OVERWRITES.has(op.f))) continue;
    const key = op.key ?? '';
    let list = byKey.get(key);
    if (list === undefined) byKey.set(key, (list = []));
    list.push(op);
  }
  const result: LostWritesResult = {
    valid: true,
    acknowledgedCount: 0,
    lost: [],
    unexplained: [],
    unread: [],
  };
  for (const [key, ops] of byKey) {
    const acked = ops.filter((op) => op.status === 'ok');
    result.acknowledgedCount += acked.length;
    if (acked.length === 0) continue;
    if (!finals.has(key)) {
      result.unread.push(key);
      continue;
    }
    const finalValue = finals.get(key);
    for (const op of acked) {
      if (op.f === 'append' && !contains(finalValue, op.input)) {
        result.lost.push({
          key,
          operation: op,
          expected: op.input,
          finalValue,
          reason: 'append missing from final value',
        });
      }
    }
    const overwrites = ops.filter((op) => OVERWRITES.has(op.f));
    const ackedOverwrites = overwrites.filter((op) => op.status === 'ok');
    if (ackedOverwrites.length === 0) continue;
    // The last acknowledged writes: no acknowledged write was invoked after they completed.
    const last = ackedOverwrites.filter((w) => !ackedOverwrites.some((o) => o.invokeIndex > w.completeIndex));
    // A write that completed before some acknowledged write began was overwritten for good;
    // any other write (acknowledged or of unknown outcome) may be the last one linearized.
    const explains = overwrites.filter((w) => !ackedOverwrites.some((o) => w.completeIndex < o.invokeIndex));
    const hasAppends = ops.some((op) => op.f === 'append');
    if (hasAppends) continue; // mixed put+append keys: the append rule above is the check
    if (explains.some((w) => sameValue(writtenValue(w, initialValue), finalValue))) continue;
    const anyWriter = overwrites.some((w) => sameValue(writtenValue(w, initialValue), finalValue));
    if (!anyWriter && !sameValue(finalValue, initialValue)) result.unexplained.push({ key, finalValue });
    for (const w of last) {
      result.lost.push({
        key,
        operation: w,
        expected: writtenValue(w, initialValue),
        finalValue,
        reason:
          anyWriter || sameValue(finalValue, initialValue)
            ? 'final value comes from a write that this acknowledged write followed'
            : 'final value was never written',
      });
    }
  }
  result.valid = result.lost.length === 0 && result.unexplained.length === 0 && result.unread.length === 0;
  return result;
}
