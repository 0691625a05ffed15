// The book's stories (DDIA ch. 7) as scripted interleavings of two transactions, each run at
// every isolation level, with a one-line account of what the level did.
import { DdiaError } from '@ddia/common';
import type { Database, Statements } from '../engine/database.js';
import type { Row } from '../engine/expression.js';

export type StoryStep =
  | { tx: string; op: 'begin' }
  | { tx: string; op: 'commit'; label?: string }
  | {
      tx: string;
      op: 'run';
      label?: string;
      run: (s: Statements, seen: Record<string, StoryResult>) => Promise<unknown>;
    };

export interface StoryResult {
  value?: unknown;
  error?: string;
  blocked: boolean;
}

export interface Story {
  name: string;
  figure: string;
  setup(db: Database): Promise<void>;
  steps: StoryStep[];
  /** What happened, from the observations and the final committed state. */
  verdict(results: Record<string, StoryResult>, db: Database): { anomaly: boolean; text: string };
}

const OVERLAPS_NOON = 'room = 123 and endsAt > 1200 and startsAt < 1300';
const rowsOf = (r: StoryResult | undefined) => (r?.value ?? []) as Row[];
const sum = (rows: Row[], column: string) => rows.reduce((a, r) => a + Number(r[column]), 0);

/** What stopped an anomaly, when something did: a blocked step or an abort with its code. */
export function howPrevented(results: Record<string, StoryResult>): string {
  const errors = Object.values(results)
    .map((r) => r.error)
    .filter((e): e is string => e !== undefined && e !== 'tx_aborted');
  if (errors.length > 0) return `prevented: a transaction aborted (${[...new Set(errors)].join(', ')})`;
  if (Object.values(results).some((r) => r.blocked)) return 'prevented: a transaction waited for a lock';
  return 'prevented: the reader saw a consistent snapshot';
}

async function accounts(db: Database): Promise<void> {
  await db.createTable('accounts', 'id');
  await db.transact('read-committed', async (s) => {
    await s.insert('accounts', { id: 1, owner: 'alice', balance: 500 });
    await s.insert('accounts', { id: 2, owner: 'alice', balance: 500 });
  });
}

export const STORIES: Story[] = [
  {
    name: 'dirty read',
    figure: 'Figure 7-4',
    setup: accounts,
    steps: [
      { tx: 'transfer', op: 'begin' },
      { tx: 'alice', op: 'begin' },
      { tx: 'transfer', op: 'run', run: (s) => s.update('accounts', 'id = 1', { balance: 'balance - 100' }) },
      { tx: 'alice', op: 'run', label: 'read', run: (s) => s.query('accounts', "owner = 'alice'") },
      { tx: 'transfer', op: 'run', run: (s) => s.update('accounts', 'id = 2', { balance: 'balance + 100' }) },
      { tx: 'transfer', op: 'commit' },
      { tx: 'alice', op: 'commit' },
    ],
    verdict: (r) => {
      const total = sum(rowsOf(r.read), 'balance');
      return total === 1000
        ? { anomaly: false, text: `saw a total of ${total}: ${howPrevented(r)}` }
        : { anomaly: true, text: `saw ${total}: the half-done transfer (dirty read)` };
    },
  },
  {
    name: 'lost update (counter)',
    figure: 'Figure 7-1',
    setup: async (db) => {
      await db.createTable('counters', 'name');
      await db.transact('read-committed', (s) => s.insert('counters', { name: 'hits', value: 42 }));
    },
    steps: [
      { tx: 'user1', op: 'begin' },
      { tx: 'user2', op: 'begin' },
      { tx: 'user1', op: 'run', label: 'r1', run: (s) => s.query('counters', "name = 'hits'") },
      { tx: 'user2', op: 'run', label: 'r2', run: (s) => s.query('counters', "name = 'hits'") },
      // The application computes the new value from what it read: read-modify-write.
      {
        tx: 'user1',
        op: 'run',
        run: (s, seen) =>
          s.update('counters', "name = 'hits'", { value: `${Number(rowsOf(seen.r1)[0]!.value) + 1}` }),
      },
      {
        tx: 'user2',
        op: 'run',
        run: (s, seen) =>
          s.update('counters', "name = 'hits'", { value: `${Number(rowsOf(seen.r2)[0]!.value) + 1}` }),
      },
      { tx: 'user1', op: 'commit' },
      { tx: 'user2', op: 'commit' },
    ],
    verdict: (r, db) => {
      const value = db.committedRows('counters')[0]!.value;
      const both = Object.values(r).every((x) => !x.error);
      return both && value === 43
        ? { anomaly: true, text: 'both committed 42 + 1 = 43: one increment lost' }
        : { anomaly: false, text: `counter = ${value}: ${howPrevented(r)}` };
    },
  },
  {
    name: 'read skew (bank transfer)',
    figure: 'Figure 7-6',
    setup: accounts,
    steps: [
      { tx: 'alice', op: 'begin' },
      { tx: 'transfer', op: 'begin' },
      { tx: 'alice', op: 'run', label: 'a1', run: (s) => s.query('accounts', 'id = 1') },
      { tx: 'transfer', op: 'run', run: (s) => s.update('accounts', 'id = 1', { balance: 'balance + 100' }) },
      { tx: 'transfer', op: 'run', run: (s) => s.update('accounts', 'id = 2', { balance: 'balance - 100' }) },
      { tx: 'transfer', op: 'commit' },
      { tx: 'alice', op: 'run', label: 'a2', run: (s) => s.query('accounts', 'id = 2') },
      { tx: 'alice', op: 'commit' },
    ],
    verdict: (r) => {
      const total = sum(rowsOf(r.a1), 'balance') + sum(rowsOf(r.a2), 'balance');
      return total === 1000 || r.a2?.error
        ? { anomaly: false, text: `Alice saw ${total}: ${howPrevented(r)}` }
        : { anomaly: true, text: `Alice saw ${total}: $100 vanished (read skew)` };
    },
  },
  {
    name: 'write skew (doctors on call)',
    figure: 'Figure 7-8',
    setup: async (db) => {
      await db.createTable('doctors', 'name');
      await db.transact('read-committed', async (s) => {
        await s.insert('doctors', { name: 'alice', onCall: true, shift: 1234 });
        await s.insert('doctors', { name: 'bob', onCall: true, shift: 1234 });
      });
    },
    steps: [
      { tx: 'alice', op: 'begin' },
      { tx: 'bob', op: 'begin' },
      {
        tx: 'alice',
        op: 'run',
        label: 'ca',
        run: (s) => s.query('doctors', 'onCall = true and shift = 1234'),
      },
      { tx: 'bob', op: 'run', label: 'cb', run: (s) => s.query('doctors', 'onCall = true and shift = 1234') },
      // Each goes off call only if the check saw at least two doctors on call.
      {
        tx: 'alice',
        op: 'run',
        run: async (s, seen) =>
          rowsOf(seen.ca).length >= 2 && s.update('doctors', "name = 'alice'", { onCall: 'false' }),
      },
      {
        tx: 'bob',
        op: 'run',
        run: async (s, seen) =>
          rowsOf(seen.cb).length >= 2 && s.update('doctors', "name = 'bob'", { onCall: 'false' }),
      },
      { tx: 'alice', op: 'commit' },
      { tx: 'bob', op: 'commit' },
    ],
    verdict: (r, db) => {
      const onCall = db.committedRows('doctors').filter((d) => d.onCall).length;
      return onCall === 0
        ? { anomaly: true, text: 'nobody is on call (write skew)' }
        : { anomaly: false, text: `${onCall} on call: ${howPrevented(r)}` };
    },
  },
  {
    name: 'double booking (phantom)',
    figure: 'Example 7-2',
    setup: async (db) => {
      await db.createTable('bookings', 'id');
    },
    steps: [
      { tx: 'ann', op: 'begin' },
      { tx: 'ben', op: 'begin' },
      { tx: 'ann', op: 'run', label: 'qa', run: (s) => s.query('bookings', OVERLAPS_NOON) },
      { tx: 'ben', op: 'run', label: 'qb', run: (s) => s.query('bookings', OVERLAPS_NOON) },
      // Each books only if the check found no overlapping booking.
      {
        tx: 'ann',
        op: 'run',
        run: async (s, seen) =>
          rowsOf(seen.qa).length === 0 &&
          s.insert('bookings', { id: 'ann', room: 123, startsAt: 1200, endsAt: 1300 }),
      },
      {
        tx: 'ben',
        op: 'run',
        run: async (s, seen) =>
          rowsOf(seen.qb).length === 0 &&
          s.insert('bookings', { id: 'ben', room: 123, startsAt: 1200, endsAt: 1300 }),
      },
      { tx: 'ann', op: 'commit' },
      { tx: 'ben', op: 'commit' },
    ],
    verdict: (r, db) => {
      const n = db.committedRows('bookings').length;
      return n > 1
        ? { anomaly: true, text: `room 123 booked ${n} times for 12:00-13:00 (phantom)` }
        : { anomaly: false, text: `${n} booking: ${howPrevented(r)}` };
    },
  },
];

/** Runs a story's steps in order; a step still running when the next is issued is "blocked". */
export async function runStory(
  db: Database,
  story: Story,
  isolation: string,
): Promise<Record<string, StoryResult>> {
  await story.setup(db);
  const ids = new Map<string, number>();
  const chains = new Map<string, Promise<void>>();
  const results: Record<string, StoryResult> = {};
  for (const [i, step] of story.steps.entries()) {
    const result: StoryResult = { blocked: false };
    results[('label' in step && step.label) || `#${i}`] = result;
    let settled = false;
    const run = async () => {
      try {
        if (step.op === 'begin') ids.set(step.tx, await db.begin(isolation));
        else if (step.op === 'commit') await db.commit(ids.get(step.tx)!);
        else result.value = await step.run(db.statementsOf(ids.get(step.tx)!), results);
      } catch (e) {
        if (!(e instanceof DdiaError)) throw e;
        result.error = e.code.replace('DDIA_ERR_', '').toLowerCase();
      }
    };
    const p = (chains.get(step.tx) ?? Promise.resolve()).then(run).then(() => {
      settled = true;
    });
    chains.set(step.tx, p);
    for (let k = 0; k < 3; k++) await new Promise((resolve) => setImmediate(resolve));
    if (!settled) result.blocked = true;
  }
  await Promise.all(chains.values());
  db.abortAll('story over');
  return results;
}
