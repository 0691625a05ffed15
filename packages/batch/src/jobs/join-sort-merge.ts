// Reduce-side sort-merge join (DDIA ch. 10, Figure 10-2): user activity events joined with the
// user database on user_id. Both inputs are mapped to (user_id, tagged record); the shuffle
// brings each user's records and events to one reducer, and the secondary sort (runs are
// ordered by key, then value) puts the user records (tag "0") before the events (tag "1"), so
// the reducer holds only one user's records at a time, never the whole table. It is an inner
// join with SQL's semantics: an event matches every user row with its id (duplicates too).
//
// Skew ("Handling skew", Pig's skewed join): a hot key's events are spread over several
// reducers, and its user records are copied to each of them. Which keys are hot:
//   - params.skew = 'sample' (or the planner's sample in general): the job exports
//     hotKeys = 'sample', so the planner runs this map over a sample of the input and hands
//     every task ctx.hotKeys (key → reducers, from the key's share of the sample);
//   - params.hotKeys = 'u1,u2' names them by hand (each spread over params.fanout reducers);
//   - neither: no skew handling (a hot key's events all go to one reducer).
// A hot key's piece i is the key `id \0 i` and goes to reducer (hash(id) + i) mod R: its pieces
// land on distinct reducers. Which piece an event goes to is a hash of the event, so a
// re-executed map task sends each event where the first attempt did.

import { hashKey, hashPartition } from '../core/partition.js';
import type { Emit, TaskContext } from '../job.js';

interface User {
  user_id: string | number;
  date_of_birth: string;
}
interface Event {
  user_id: string | number;
  url: string;
  ts: number | string;
}

export const hotKeys = 'sample';

const FANOUT_DEFAULT = 4;
const PIECE = '\u0000';
/** Hot user id → the number of reducers its events are spread over. */
let hot = new Map<string, number>();

export function setup(ctx: TaskContext): void {
  hot = new Map();
  const named = ctx.params.hotKeys;
  if (named !== undefined && named !== '') {
    const fanout = Number(ctx.params.fanout ?? FANOUT_DEFAULT);
    if (!Number.isInteger(fanout) || fanout < 1)
      throw new Error(`fanout must be a positive integer, got '${ctx.params.fanout}'`);
    for (const key of named.split(',')) if (key !== '') hot.set(key, fanout);
  } else if (ctx.params.skew === 'sample') {
    for (const [key, fanout] of Object.entries(ctx.hotKeys)) hot.set(key, fanout);
  } else if (ctx.params.skew !== undefined && ctx.params.skew !== 'off') {
    throw new Error(`skew must be 'sample' or 'off', got '${ctx.params.skew}'`);
  }
}

export function map(record: User | Event, emit: Emit, ctx: { input: string }): void {
  const id = String(record.user_id);
  const fanout = hot.get(id);
  if (ctx.input === 'users') {
    const tagged = `0${(record as User).date_of_birth}`;
    if (fanout === undefined) emit(id, tagged);
    else for (let i = 0; i < fanout; i++) emit(`${id}${PIECE}${i}`, tagged);
    return;
  }
  const event = record as Event;
  const tagged = `1${JSON.stringify([event.url, String(event.ts)])}`;
  if (fanout === undefined) emit(id, tagged);
  else emit(`${id}${PIECE}${hashKey(tagged) % fanout}`, tagged);
}

/** The user id of a key and, for a piece of a hot key, which piece it is. */
function splitKey(key: string): { id: string; piece: number } {
  const at = key.lastIndexOf(PIECE);
  if (at < 0) return { id: key, piece: 0 };
  const id = key.slice(0, at);
  return hot.has(id) ? { id, piece: Number(key.slice(at + 1)) } : { id: key, piece: 0 };
}

/** A hot key's pieces go to consecutive reducers from the key's own, so never two to one. */
export function partition(key: string, partitions: number): number {
  const { id, piece } = splitKey(key);
  return (hashPartition(id, partitions) + piece) % partitions;
}

export function reduce(key: string, values: string[], emit: Emit): void {
  const { id } = splitKey(key);
  // The secondary sort puts every user record ("0...") before the first event ("1...").
  let users = 0;
  while (users < values.length && values[users]!.startsWith('0')) users++;
  if (users === 0) return; // events of an unknown user: an inner join drops them
  for (let i = users; i < values.length; i++) {
    const [url, ts] = JSON.parse(values[i]!.slice(1)) as [string, string];
    for (let u = 0; u < users; u++) emit(id, JSON.stringify([url, ts, values[u]!.slice(1)]));
  }
}
