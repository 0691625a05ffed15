// Partitioned hash join (DDIA ch. 10, "Partitioned hash joins"; Hive's bucketed map join):
// both inputs were partitioned the same way into the same number of files (part-00003 of the
// events holds the same user ids as part-00003 of the users). A map task reads one events file
// and loads only the matching users file into its hash table.
import { basename } from 'node:path';
import type { Emit, TaskContext } from '../job.js';
import { type Event, passThrough, UserHashTable } from './shared/user-hash-table.js';

const users = new UserHashTable();

export async function setup(ctx: TaskContext): Promise<void> {
  users.clear();
  if (ctx.kind !== 'map') return;
  const dir = ctx.params.users;
  if (!dir) throw new Error("join-partitioned needs the parameter 'users' (a directory of part-NNNNN.csv)");
  const part = /part-(\d+)/.exec(basename(ctx.file))?.[1];
  if (part === undefined)
    throw new Error(`${ctx.file} is not named part-NNNNN: the inputs must be partitioned alike`);
  await users.load(ctx, `${dir}/part-${part}.csv`);
}

export function map(event: Event, emit: Emit): void {
  users.probe(event, emit);
}

export const reduce = passThrough;
