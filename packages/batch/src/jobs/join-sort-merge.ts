// Reduce-side sort-merge join (DDIA ch. 10, Figure 10-2): user activity events joined with the
// user database on user_id. Both inputs are mapped to (user_id, tagged record); the shuffle
// brings each user's record and events to one reducer, and the secondary sort (runs are
// ordered by key, then value) puts the user record (tag "0") before the events (tag "1"), so
// the reducer holds one user at a time, never the whole table.
//
// Skew ("Handling skew"): keys named in the `hotKeys` parameter are spread over `fanout`
// reducers. A hot key's events go to one of them, chosen by a hash of the event (deterministic,
// so a re-executed task sends each event to the same place); its user record is copied to all.

import { hashKey } from '../core/partition.js';
import type { Emit } from '../job.js';

interface User {
  user_id: string;
  date_of_birth: string;
}
interface Event {
  user_id: string;
  url: string;
  ts: number | string;
}

const FANOUT_DEFAULT = 4;
let hot = new Set<string>();
let fanout = FANOUT_DEFAULT;

export function setup(ctx: { params: Readonly<Record<string, string>> }): void {
  hot = new Set((ctx.params.hotKeys ?? '').split(',').filter((k) => k !== ''));
  fanout = Number(ctx.params.fanout ?? FANOUT_DEFAULT);
  if (!Number.isInteger(fanout) || fanout < 1)
    throw new Error(`fanout must be a positive integer, got '${ctx.params.fanout}'`);
}

export function map(record: User | Event, emit: Emit, ctx: { input: string }): void {
  if (ctx.input === 'users') {
    const user = record as User;
    const tagged = `0${user.date_of_birth}`;
    if (hot.has(user.user_id)) for (let i = 0; i < fanout; i++) emit(`${user.user_id}#${i}`, tagged);
    else emit(user.user_id, tagged);
    return;
  }
  const event = record as Event;
  const tagged = `1${JSON.stringify([event.url, String(event.ts)])}`;
  if (hot.has(event.user_id)) emit(`${event.user_id}#${hashKey(tagged) % fanout}`, tagged);
  else emit(event.user_id, tagged);
}

export function reduce(key: string, values: string[], emit: Emit): void {
  const first = values[0]!;
  if (!first.startsWith('0')) return; // events of an unknown user: an inner join drops them
  const dateOfBirth = first.slice(1);
  const userId = key.includes('#') ? key.slice(0, key.lastIndexOf('#')) : key;
  for (let i = 1; i < values.length; i++) {
    const value = values[i]!;
    if (!value.startsWith('1')) continue; // a duplicate user row
    const [url, ts] = JSON.parse(value.slice(1)) as [string, string];
    emit(userId, JSON.stringify([url, ts, dateOfBirth]));
  }
}
