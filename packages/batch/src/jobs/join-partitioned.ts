// Partitioned hash join (DDIA ch. 10, "Partitioned hash joins"; Hive's bucketed map join):
// both inputs were partitioned the same way into the same number of files (part-00003 of the
// events holds the same user ids as part-00003 of the users). A map task reads one events file
// and loads only the matching users file into its hash table.
import { basename } from 'node:path';
import type { Emit, TaskContext } from '../job.js';

/** user_id → the date_of_birth of every user row with that id (SQL joins duplicates too). */
let users = new Map<string, string[]>();

export async function setup(ctx: TaskContext): Promise<void> {
  users = new Map();
  if (ctx.kind !== 'map') return;
  const dir = ctx.params.users;
  if (!dir) throw new Error("join-partitioned needs the parameter 'users' (a directory of part-NNNNN.csv)");
  const part = /part-(\d+)/.exec(basename(ctx.file))?.[1];
  if (part === undefined)
    throw new Error(`${ctx.file} is not named part-NNNNN: the inputs must be partitioned alike`);
  for (const row of (await ctx.readSideInput(`${dir}/part-${part}.csv`, 'csv')) as {
    user_id: string | number;
    date_of_birth: string;
  }[]) {
    const id = String(row.user_id);
    const rows = users.get(id);
    if (rows) rows.push(row.date_of_birth);
    else users.set(id, [row.date_of_birth]);
  }
}

export function map(event: { user_id: string | number; url: string; ts: number | string }, emit: Emit): void {
  const id = String(event.user_id);
  for (const dateOfBirth of users.get(id) ?? [])
    emit(id, JSON.stringify([event.url, String(event.ts), dateOfBirth]));
}

export function reduce(key: string, values: string[], emit: Emit): void {
  for (const value of values) emit(key, value);
}
