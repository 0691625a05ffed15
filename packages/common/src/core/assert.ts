// Invariants, TigerBeetle style: a broken invariant stops the process rather than corrupting
// data. Bad *input* is never an assertion: it gets an error value or a 4xx instead.

/** Thrown when an invariant does not hold: a bug in our code, never a user's mistake. */
export class AssertionError extends Error {
  override name = 'AssertionError';
}

export function assert(condition: unknown, message = 'assertion failed'): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/** Marks a branch the type system proves impossible (exhaustive switches). */
export function unreachable(value: never, message = 'unreachable'): never {
  throw new AssertionError(`${message}: ${JSON.stringify(value)}`);
}
