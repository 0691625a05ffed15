// What the two map-side hash joins share (DDIA ch. 10, "Map-side joins"): a hash table of the
// user database keyed by user_id, built from a side input before the map task streams its split
// of the events, and the probe of one event against it. The joins differ only in which users
// file a task loads: all of them (broadcast) or the one partition matching its split (partitioned).
import type { Emit, TaskContext } from '../../job.js';

interface UserRow {
  user_id: string | number;
  date_of_birth: string;
}

export interface Event {
  user_id: string | number;
  url: string;
  ts: number | string;
}

export class UserHashTable {
  /** user_id → the date_of_birth of every user row with that id (SQL joins duplicates too). */
  private users = new Map<string, string[]>();

  /** Forget the previous task's table (a worker process runs many tasks one after another). */
  clear(): void {
    this.users = new Map();
  }

  async load(ctx: TaskContext, csvPath: string): Promise<void> {
    for (const row of (await ctx.readSideInput(csvPath, 'csv')) as UserRow[]) {
      const id = String(row.user_id);
      const rows = this.users.get(id);
      if (rows) rows.push(row.date_of_birth);
      else this.users.set(id, [row.date_of_birth]);
    }
  }

  /** One output row per matching user row (an inner join): key user_id, [url, ts, date_of_birth]. */
  probe(event: Event, emit: Emit): void {
    const id = String(event.user_id);
    for (const dateOfBirth of this.users.get(id) ?? []) {
      emit(id, JSON.stringify([event.url, String(event.ts), dateOfBirth]));
    }
  }
}

/** The map side did the join: reduce passes the joined rows through, grouped by user_id. */
export function passThrough(key: string, values: string[], emit: Emit): void {
  for (const value of values) emit(key, value);
}
