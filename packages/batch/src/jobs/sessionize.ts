// Sessionization of a clickstream (DDIA ch. 10, "Sort-merge joins" and "GROUP BY": "collating
// all the activity events for a particular user session ... is called sessionization"): a
// user's clicks belong to one session until the user is inactive for more than `gap` seconds.
//
// The map keys each click by user and puts its timestamp, zero-padded so that strings sort
// like numbers, at the front of the value. The engine sorts runs by key and then by value (the
// secondary sort), so the reducer receives one user's clicks already in time order and cuts
// sessions in a single pass, holding one session's counters, never the user's whole history.
//
// Input: records with `user_id`, `ts` (seconds since the epoch, an integer ≥ 0) and `url`
// (CSV, JSON lines or Parquet). Parameter `gap`: seconds of inactivity that end a session
// (default 1800, the usual 30 minutes). Output: one line per session,
//   user_id <TAB> [session number (1, 2, ... per user), first ts, last ts, clicks, landing url]
// where the landing url is the session's first click (the least url among clicks of its first
// second). DuckDB's answer is the window query in the README.
import type { Emit, TaskContext } from '../job.js';

interface Click {
  user_id: string | number;
  ts: string | number;
  url?: string;
}

const TS_DIGITS = 16;
const GAP_DEFAULT_S = 1800;
let gap = GAP_DEFAULT_S;

export function setup(ctx: TaskContext): void {
  gap = Number(ctx.params.gap ?? GAP_DEFAULT_S);
  if (!Number.isSafeInteger(gap) || gap < 0)
    throw new Error(`gap must be a whole number of seconds ≥ 0, got '${ctx.params.gap}'`);
}

export function map(click: Click, emit: Emit): void {
  const ts = Number(click.ts);
  if (!Number.isSafeInteger(ts) || ts < 0 || String(ts).length > TS_DIGITS)
    throw new Error(`sessionize: ts '${click.ts}' is not whole seconds since the epoch`);
  if (click.user_id === undefined || click.user_id === null || click.user_id === '')
    throw new Error('sessionize: a click without a user_id');
  emit(String(click.user_id), `${String(ts).padStart(TS_DIGITS, '0')}\t${click.url ?? ''}`);
}

export function reduce(user: string, values: string[], emit: Emit): void {
  let session = 0;
  let start = -1;
  let last = -1;
  let clicks = 0;
  let landing = '';
  const flush = () => {
    if (clicks > 0) emit(user, JSON.stringify([session, start, last, clicks, landing]));
  };
  for (const value of values) {
    const tab = value.indexOf('\t');
    const ts = Number(value.slice(0, tab));
    if (clicks === 0 || ts - last > gap) {
      flush();
      session++;
      start = ts;
      clicks = 0;
      landing = value.slice(tab + 1);
    }
    last = ts;
    clicks++;
  }
  flush();
}

/** Parquet output (outputFormat 'parquet'): one row per session. */
export const outputColumns = [
  { name: 'user_id', type: 'STRING' },
  { name: 'session', type: 'INT64' },
  { name: 'first_ts', type: 'INT64' },
  { name: 'last_ts', type: 'INT64' },
  { name: 'clicks', type: 'INT64' },
  { name: 'landing_url', type: 'STRING' },
] as const;

export function outputRow(user: string, value: string): unknown[] {
  return [user, ...(JSON.parse(value) as unknown[])];
}
