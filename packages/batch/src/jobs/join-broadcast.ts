// Broadcast hash join (DDIA ch. 10, "Map-side joins"): the small input (the user database,
// the `users` parameter) is loaded into a hash table by every map task, which then streams
// its split of the large input (events) and joins each event on its own: no shuffle of users.
import type { Emit, TaskContext } from '../job.js';

/** user_id → the date_of_birth of every user row with that id (SQL joins duplicates too). */
let users = new Map<string, string[]>();

export async function setup(ctx: TaskContext): Promise<void> {
  users = new Map();
  if (ctx.kind !== 'map') return;
  const path = ctx.params.users;
  if (!path) throw new Error("join-broadcast needs the parameter 'users' (the small input)");
  for (const row of (await ctx.readSideInput(path, 'csv')) as {
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
