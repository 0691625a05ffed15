// Broadcast hash join (DDIA ch. 10, "Map-side joins"): the small input (the user database,
// the `users` parameter) is loaded into a hash table by every map task, which then streams
// its split of the large input (events) and joins each event on its own: no shuffle of users.
import type { Emit, TaskContext } from '../job.js';
import { type Event, passThrough, UserHashTable } from './shared/user-hash-table.js';

const users = new UserHashTable();

export async function setup(ctx: TaskContext): Promise<void> {
  users.clear();
  if (ctx.kind !== 'map') return;
  const path = ctx.params.users;
  if (!path) throw new Error("join-broadcast needs the parameter 'users' (the small input)");
  await users.load(ctx, path);
}

export function map(event: Event, emit: Emit): void {
  users.probe(event, emit);
}

export const reduce = passThrough;
