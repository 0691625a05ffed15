// Every write the simulated clients issued, what each had read first, and whether it was
// acknowledged. The check at the end: an acknowledged value may be gone only if some write
// had seen it (and so meant to replace it). Anything else is a lost write.

export interface WriteRecord {
  key: string;
  /** Unique per write, so a value names its write. */
  value: string;
  /** The values the client read just before writing (with their context). Empty for a blind write. */
  seen: readonly string[];
  acked: boolean;
}

export class WriteLedger {
  private readonly writes: WriteRecord[] = [];
  private readonly seenByKey = new Map<string, Set<string>>();
  acked = 0;
  failed = 0;

  issue(record: WriteRecord): void {
    this.writes.push(record);
    let seen = this.seenByKey.get(record.key);
    if (!seen) this.seenByKey.set(record.key, (seen = new Set()));
    for (const value of record.seen) seen.add(value);
  }

  ack(record: WriteRecord): void {
    record.acked = true;
    this.acked++;
  }

  fail(_record: WriteRecord): void {
    this.failed++;
  }

  /** Violations: acknowledged values neither present at the end nor seen by a later write. */
  lostWrites(finalValues: (key: string) => readonly string[]): string[] {
    const lost: string[] = [];
    const finals = new Map<string, Set<string>>();
    for (const write of this.writes) {
      if (!write.acked) continue;
      let present = finals.get(write.key);
      if (!present) finals.set(write.key, (present = new Set(finalValues(write.key))));
      if (present.has(write.value) || this.seenByKey.get(write.key)?.has(write.value)) continue;
      lost.push(`acknowledged write ${write.key}=${write.value} was lost (no later write had seen it)`);
    }
    return lost;
  }

  lostCount(finalValues: (key: string) => readonly string[]): number {
    return this.lostWrites(finalValues).length;
  }
}
