// Deadlock detection, and waiting for other transactions: a statement that meets another transaction's lock sleeps
// until that transaction finishes (or the lock timeout passes). The waits-for graph is
// searched for a cycle before sleeping: a cycle is a deadlock and the waiter that would
// close it is aborted (DDIA ch. 7 "Implementation of two-phase locking": "the database
// automatically detects deadlocks between transactions and aborts one of them").
import type { TimerClock } from '@ddia/common/core';
import { TxError, TxErrors } from '../errors.js';
import type { Tx } from './transaction.js';

/** Returns a cycle through `waiter` if it were to wait for `blockers`, else null. */
export function findDeadlock(waiter: Tx, blockers: ReadonlySet<Tx>): Tx[] | null {
  const seen = new Set<Tx>();
  const path: Tx[] = [waiter];
  const visit = (t: Tx): boolean => {
    if (t === waiter) return true;
    if (seen.has(t)) return false;
    seen.add(t);
    path.push(t);
    for (const next of t.waitingFor ?? []) if (visit(next)) return true;
    path.pop();
    return false;
  };
  for (const b of blockers) if (visit(b)) return path;
  return null;
}

/**
 * Sleeps until one of `blockers` finishes, `waiter` is aborted, or `lockTimeoutMs` passes.
 * The caller re-examines the row afterwards: waking up is a hint, not a grant.
 */
export async function waitFor(
  waiter: Tx,
  blockers: ReadonlySet<Tx>,
  clock: TimerClock,
  lockTimeoutMs: number,
  what: string,
): Promise<void> {
  const cycle = findDeadlock(waiter, blockers);
  if (cycle) {
    throw new TxError(
      TxErrors.deadlock,
      `deadlock detected: ${cycle.map((t) => `tx ${t.id}`).join(' waits for ')} waits for tx ${waiter.id}; ` +
        `tx ${waiter.id} is aborted (retry it)`,
      { txId: waiter.id, cycle: cycle.map((t) => t.id) },
    );
  }
  waiter.waitingFor = blockers;
  let timer: { cancel(): void } | null = null;
  try {
    const timedOut = await Promise.race([
      ...[...blockers].map((b) => b.done.then(() => false)),
      waiter.done.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = clock.setTimeout(() => resolve(true), lockTimeoutMs);
      }),
    ]);
    if (timedOut) {
      throw new TxError(
        TxErrors.lockTimeout,
        `tx ${waiter.id} waited ${lockTimeoutMs} ms for ${what} held by ` +
          `${[...blockers].map((b) => `tx ${b.id}`).join(', ')}; the transaction is aborted`,
        { txId: waiter.id },
      );
    }
  } finally {
    (timer as { cancel(): void } | null)?.cancel();
    waiter.waitingFor = null;
  }
}
