// The checker of a Jepsen-style run against a log (test/jepsen.it.test.ts): producers append
// unique values (producer p, sequence number s) and record each attempt's outcome; consumers
// record what they read, with partition and offset. Pure: it judges the history afterwards.
//
// What a log must do, per partition (DDIA ch. 11: "a log is an append-only sequence of records
// ... each consumer reads it in order"):
//   - lost: an acknowledged value that the final read (from the start, after the faults
//     healed) does not contain;
//   - duplicated: a value at two offsets of the final read (an acknowledged append applied
//     twice: a retried batch that the idempotent producer should have recognised);
//   - reordered: two values of one producer in one partition, acknowledged in one order
//     (sequentially: the next send starts after the previous was acknowledged), read in the
//     other;
//   - unexpected: a value nobody tried to append;
//   - offsets: the final read's offsets in a partition are not 0, 1, 2, ... (a hole or a repeat);
//   - skipped (live consumers): a consumer that read offset o of a partition and then, without
//     restarting there, read an offset past o + 1 (records it never saw; rereading after a
//     restart is at-least-once delivery and allowed).
// An append whose outcome is unknown (the send failed: timeout, connection lost) may be read
// once or not at all; it is never counted lost, but reading it twice is a duplicate.

export interface AppendAttempt {
  value: string;
  producer: string;
  /** Per producer, increasing in the order the producer sent them. */
  seq: number;
  partition: number;
  outcome: 'ok' | 'unknown';
}

export interface ReadRecord {
  partition: number;
  offset: number;
  value: string;
}

export interface LogCheckResult {
  valid: boolean;
  acknowledged: number;
  unknownRead: number;
  unknownMissing: number;
  lost: string[];
  duplicated: { value: string; offsets: number[] }[];
  reordered: { producer: string; partition: number; first: string; second: string }[];
  unexpected: string[];
  offsetErrors: { partition: number; expected: number; got: number }[];
  skipped: { consumer: string; partition: number; after: number; got: number }[];
}

/**
 * `finalRead`: everything in the log, read from offset 0 once the faults healed. `live`: the
 * sequences read by consumers during the run (consumer name -> records in read order).
 */
export function checkLogHistory(
  attempts: readonly AppendAttempt[],
  finalRead: readonly ReadRecord[],
  live: ReadonlyMap<string, readonly ReadRecord[]> = new Map(),
): LogCheckResult {
  const byValue = new Map(attempts.map((a) => [a.value, a]));
  const positions = new Map<string, ReadRecord[]>();
  const unexpected: string[] = [];
  for (const r of finalRead) {
    if (!byValue.has(r.value)) unexpected.push(r.value);
    const list = positions.get(r.value) ?? [];
    list.push(r);
    positions.set(r.value, list);
  }
  const duplicated = [...positions]
    .filter(([, rs]) => rs.length > 1)
    .map(([value, rs]) => ({ value, offsets: rs.map((r) => r.offset) }));
  const lost: string[] = [];
  let acknowledged = 0;
  let unknownRead = 0;
  let unknownMissing = 0;
  for (const a of attempts) {
    const read = positions.has(a.value);
    if (a.outcome === 'ok') {
      acknowledged++;
      if (!read) lost.push(a.value);
    } else if (read) unknownRead++;
    else unknownMissing++;
  }

  // Per partition: dense offsets from 0, and each producer's acknowledged values in seq order.
  const offsetErrors: LogCheckResult['offsetErrors'] = [];
  const reordered: LogCheckResult['reordered'] = [];
  const partitions = new Map<number, ReadRecord[]>();
  for (const r of finalRead) {
    const list = partitions.get(r.partition) ?? [];
    list.push(r);
    partitions.set(r.partition, list);
  }
  for (const [partition, records] of partitions) {
    const sorted = [...records].sort((x, y) => x.offset - y.offset);
    sorted.forEach((r, i) => {
      if (r.offset !== i) offsetErrors.push({ partition, expected: i, got: r.offset });
    });
    const lastOf = new Map<string, AppendAttempt>();
    for (const r of sorted) {
      const a = byValue.get(r.value);
      if (a?.outcome !== 'ok') continue;
      const previous = lastOf.get(a.producer);
      if (previous && previous.seq > a.seq)
        reordered.push({ producer: a.producer, partition, first: previous.value, second: a.value });
      lastOf.set(a.producer, a);
    }
  }

  const skipped: LogCheckResult['skipped'] = [];
  for (const [consumer, records] of live) {
    const last = new Map<number, number>();
    for (const r of records) {
      const before = last.get(r.partition);
      if (before !== undefined && r.offset > before + 1)
        skipped.push({ consumer, partition: r.partition, after: before, got: r.offset });
      last.set(r.partition, r.offset);
    }
  }

  return {
    valid:
      lost.length === 0 &&
      duplicated.length === 0 &&
      reordered.length === 0 &&
      unexpected.length === 0 &&
      offsetErrors.length === 0 &&
      skipped.length === 0,
    acknowledged,
    unknownRead,
    unknownMissing,
    lost,
    duplicated,
    reordered,
    unexpected,
    offsetErrors,
    skipped,
  };
}
