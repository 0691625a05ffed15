// The Hermitage test cases (Martin Kleppmann, github.com/ept/hermitage) as data: each is
// an interleaving of statements by two or three transactions on the table
// test(id, value) = {(1, 10), (2, 20)}, plus a check that says, from what the
// transactions observed, whether the anomaly happened. The same scenario runs against our
// engine at every isolation level and against PostgreSQL (postgres-driver.ts).
// Expressions are written in the subset of SQL our expression language shares with it.
import { TxErrors } from '../errors.js';

export type Op =
  | { op: 'begin'; isolation?: string }
  | { op: 'select'; where: string }
  | { op: 'insert'; id: number; value: number }
  | { op: 'update'; where: string; set: string }
  | { op: 'delete'; where: string }
  | { op: 'commit' }
  | { op: 'abort' };

export type Step = Op & { tx: string; label?: string };

export interface TestRow {
  id: number;
  value: number;
}

export interface StepResult {
  rows?: TestRow[];
  count?: number;
  error?: { code: string; message: string };
  /** The step did not finish before the next one was issued: it waited for a lock. */
  blocked: boolean;
}

export type Results = Record<string, StepResult>;

export interface Scenario {
  /** Column name in the table (Hermitage's anomaly names). */
  name: string;
  title: string;
  /** The book's or Adya's description, in one sentence. */
  description: string;
  steps: Step[];
  /** From the observations: did the anomaly occur? */
  anomaly(r: Results): boolean;
}

const value = (r: StepResult | undefined, id: number): number | undefined =>
  r?.rows?.find((row) => Number(row.id) === id)?.value;
const ok = (r: StepResult | undefined): boolean => r !== undefined && r.error === undefined;
const has = (r: StepResult | undefined, id: number): boolean => value(r, id) !== undefined;

// One builder a statement, so that a scenario reads like Hermitage's SQL transcripts.
const labelled = (label: string | undefined) => (label === undefined ? {} : { label });
const begin = (tx: string, isolation?: string): Step => ({
  tx,
  op: 'begin',
  ...(isolation === undefined ? {} : { isolation }),
});
const select = (tx: string, where: string, label?: string): Step => ({
  tx,
  op: 'select',
  where,
  ...labelled(label),
});
const insert = (tx: string, id: number, value: number): Step => ({ tx, op: 'insert', id, value });
const update = (tx: string, where: string, set: string, label?: string): Step => ({
  tx,
  op: 'update',
  where,
  set,
  ...labelled(label),
});
/** `delete` is a reserved word. */
const remove = (tx: string, where: string, label?: string): Step => ({
  tx,
  op: 'delete',
  where,
  ...labelled(label),
});
const commit = (tx: string, label?: string): Step => ({ tx, op: 'commit', ...labelled(label) });
const abort = (tx: string): Step => ({ tx, op: 'abort' });

const begin2: Step[] = [begin('T1'), begin('T2')];

export const SCENARIOS: Scenario[] = [
  {
    name: 'G0',
    title: 'Write cycles (dirty writes)',
    description: 'Two transactions overwrite each other’s uncommitted writes, so the final state mixes them.',
    steps: [
      ...begin2,
      update('T1', 'id = 1', '11'),
      update('T2', 'id = 1', '12'),
      update('T1', 'id = 2', '21'),
      commit('T1'),
      update('T2', 'id = 2', '22'),
      commit('T2'),
      begin('C', 'read-committed'),
      select('C', 'true', 'final'),
      commit('C'),
    ],
    anomaly: (r) => {
      const a = value(r.final, 1);
      const b = value(r.final, 2);
      return (a === 12 && b === 21) || (a === 11 && b === 22);
    },
  },
  {
    name: 'G1a',
    title: 'Aborted reads (dirty read)',
    description: 'A transaction reads a value written by a transaction that later aborts.',
    steps: [
      ...begin2,
      update('T1', 'id = 1', '101'),
      select('T2', 'true', 'r1'),
      abort('T1'),
      select('T2', 'true', 'r2'),
      commit('T2'),
    ],
    anomaly: (r) => value(r.r1, 1) === 101 || value(r.r2, 1) === 101,
  },
  {
    name: 'G1b',
    title: 'Intermediate reads (dirty read)',
    description: 'A transaction reads a value that its writer later overwrote before committing.',
    steps: [
      ...begin2,
      update('T1', 'id = 1', '101'),
      select('T2', 'true', 'r1'),
      update('T1', 'id = 1', '11'),
      commit('T1'),
      select('T2', 'true', 'r2'),
      commit('T2'),
    ],
    anomaly: (r) => value(r.r1, 1) === 101 || value(r.r2, 1) === 101,
  },
  {
    name: 'G1c',
    title: 'Circular information flow (dirty read)',
    description: 'Each of two transactions reads the other’s uncommitted write.',
    steps: [
      ...begin2,
      update('T1', 'id = 1', '11'),
      update('T2', 'id = 2', '22'),
      select('T1', 'id = 2', 'r1'),
      select('T2', 'id = 1', 'r2'),
      commit('T1'),
      commit('T2'),
    ],
    // A cycle of write-read dependencies: each read the other's write before either committed.
    anomaly: (r) => value(r.r1, 2) === 22 && value(r.r2, 1) === 11,
  },
  {
    name: 'OTV',
    title: 'Observed transaction vanishes',
    description:
      'A reader sees one of a transaction’s overwrites and later reads an older value it replaced.',
    steps: [
      ...begin2,
      begin('T3'),
      update('T1', 'id = 1', '11'),
      update('T1', 'id = 2', '19'),
      update('T2', 'id = 1', '12'),
      commit('T1'),
      select('T3', 'id = 1', 'a'),
      update('T2', 'id = 2', '18'),
      select('T3', 'id = 2', 'b'),
      commit('T2'),
      select('T3', 'id = 2', 'c'),
      select('T3', 'id = 1', 'd'),
      commit('T3'),
    ],
    anomaly: (r) => {
      let sawT2 = false;
      for (const [label, id] of [
        ['a', 1],
        ['b', 2],
        ['c', 2],
        ['d', 1],
      ] as const) {
        const v = value(r[label], id);
        if (sawT2 && (v === 11 || v === 19)) return true;
        if (v === 12 || v === 18) sawT2 = true;
      }
      return false;
    },
  },
  {
    name: 'PMP',
    title: 'Predicate-many-preceders (phantom)',
    description:
      'A predicate read repeated in one transaction sees a row another transaction inserted meanwhile.',
    steps: [
      ...begin2,
      select('T1', 'value = 30', 'a'),
      insert('T2', 3, 30),
      commit('T2'),
      select('T1', 'value % 3 = 0', 'b'),
      commit('T1'),
    ],
    anomaly: (r) => has(r.b, 3),
  },
  {
    name: 'PMP-write',
    title: 'Predicate-many-preceders with a write predicate',
    description: 'A delete chooses rows by a snapshot that a concurrent update has moved under it.',
    steps: [
      ...begin2,
      update('T1', 'true', 'value + 10'),
      remove('T2', 'value = 20'),
      commit('T1'),
      select('T2', 'value = 20', 'r'),
      commit('T2', 'c2'),
    ],
    anomaly: (r) => ok(r.c2) && (r.r?.rows?.length ?? 0) > 0,
  },
  {
    name: 'P4',
    title: 'Lost update',
    description:
      'Two read-modify-write cycles on one row: the second overwrites the first without seeing it.',
    steps: [
      ...begin2,
      select('T1', 'id = 1', 'r1'),
      select('T2', 'id = 1', 'r2'),
      update('T1', 'id = 1', '11'),
      update('T2', 'id = 1', '11'),
      commit('T1', 'c1'),
      commit('T2', 'c2'),
    ],
    anomaly: (r) => ok(r.c1) && ok(r.c2) && value(r.r1, 1) === 10 && value(r.r2, 1) === 10,
  },
  {
    name: 'G-single',
    title: 'Single anti-dependency cycle (read skew)',
    description: 'A reader sees part of a transaction’s effects: id 1 before it, id 2 after it.',
    steps: [
      ...begin2,
      select('T1', 'id = 1', 'a'),
      select('T2', 'id = 1'),
      select('T2', 'id = 2'),
      update('T2', 'id = 1', '12'),
      update('T2', 'id = 2', '18'),
      commit('T2'),
      select('T1', 'id = 2', 'b'),
      commit('T1'),
    ],
    anomaly: (r) => value(r.a, 1) === 10 && value(r.b, 2) === 18,
  },
  {
    name: 'G-single-predicate',
    title: 'Read skew through predicate reads',
    description: 'Two predicate reads in one transaction straddle another transaction’s update.',
    steps: [
      ...begin2,
      select('T1', 'value % 5 = 0', 'a'),
      update('T2', 'value = 10', '12'),
      commit('T2'),
      select('T1', 'value % 3 = 0', 'b'),
      commit('T1'),
    ],
    anomaly: (r) => value(r.a, 1) === 10 && value(r.b, 1) === 12,
  },
  {
    name: 'G-single-write',
    title: 'Read skew through a write predicate',
    description:
      'A transaction reads before another commits, then deletes by a predicate evaluated after it.',
    steps: [
      ...begin2,
      select('T1', 'id = 1', 'a'),
      select('T2', 'true'),
      update('T2', 'id = 1', '12'),
      update('T2', 'id = 2', '18'),
      commit('T2'),
      remove('T1', 'value = 20', 'd'),
      commit('T1', 'c1'),
    ],
    anomaly: (r) => value(r.a, 1) === 10 && ok(r.d) && r.d?.count === 0 && ok(r.c1),
  },
  {
    name: 'G2-item',
    title: 'Item anti-dependency cycle (write skew)',
    description: 'Both read both rows, each updates a different one; neither saw the other’s write.',
    steps: [
      ...begin2,
      select('T1', 'id = 1 or id = 2', 'a'),
      select('T2', 'id = 1 or id = 2', 'b'),
      update('T1', 'id = 1', '11'),
      update('T2', 'id = 2', '21'),
      commit('T1', 'c1'),
      commit('T2', 'c2'),
    ],
    anomaly: (r) => ok(r.c1) && ok(r.c2) && value(r.a, 2) === 20 && value(r.b, 1) === 10,
  },
  {
    name: 'G2',
    title: 'Anti-dependency cycle on a predicate (write skew with phantoms)',
    description: 'Both check that no row matches, both insert a matching row; each missed the other’s.',
    steps: [
      ...begin2,
      select('T1', 'value % 3 = 0', 'a'),
      select('T2', 'value % 3 = 0', 'b'),
      insert('T1', 3, 30),
      insert('T2', 4, 42),
      commit('T1', 'c1'),
      commit('T2', 'c2'),
    ],
    anomaly: (r) => ok(r.c1) && ok(r.c2) && !has(r.a, 4) && !has(r.b, 3),
  },
  {
    name: 'Fekete',
    title: 'Read-only transaction anomaly (Fekete et al. 2004)',
    description: 'A read-only transaction sees T2’s deposit but not T1’s earlier-serialized write.',
    steps: [
      begin('T1'),
      select('T1', 'true', 'a'),
      begin('T2'),
      update('T2', 'id = 2', 'value + 5'),
      commit('T2'),
      begin('T3'),
      select('T3', 'true', 't3'),
      commit('T3'),
      update('T1', 'id = 1', '0', 'u1'),
      commit('T1', 'c1'),
    ],
    anomaly: (r) => ok(r.u1) && ok(r.c1) && value(r.t3, 1) === 10 && value(r.t3, 2) === 25,
  },
];

export type Outcome = 'not prevented' | 'prevented' | 'blocked' | 'aborted';

export const RETRY_CODES: ReadonlySet<string> = new Set([
  TxErrors.serialization.code,
  TxErrors.deadlock.code,
  '40001',
  '40P01',
]);

/** How a level dealt with a scenario: the anomaly happened, or what stopped it. */
export function classify(scenario: Scenario, results: Results): Outcome {
  if (scenario.anomaly(results)) return 'not prevented';
  const all = Object.values(results);
  if (all.some((r) => r.error && RETRY_CODES.has(r.error.code))) return 'aborted';
  if (all.some((r) => r.blocked)) return 'blocked';
  return 'prevented';
}

/**
 * PostgreSQL's rows, transcribed from Hermitage's published results (README table and
 * postgres.md): true = the level prevents the anomaly. Columns Hermitage only shows in
 * postgres.md (PMP-write, the G-single variants, Fekete) follow its test cases there.
 * One line per anomaly, the levels across, so a cell reads like Hermitage's table.
 */
const POSTGRES_PREVENTS: Record<
  string,
  [readCommitted: boolean, repeatableRead: boolean, serializable: boolean]
> = {
  G0: [true, true, true],
  G1a: [true, true, true],
  G1b: [true, true, true],
  G1c: [true, true, true],
  OTV: [true, true, true],
  PMP: [false, true, true],
  'PMP-write': [false, true, true],
  P4: [false, true, true],
  'G-single': [false, true, true],
  'G-single-predicate': [false, true, true],
  'G-single-write': [false, true, true],
  'G2-item': [false, false, true],
  G2: [false, false, true],
  Fekete: [false, false, true],
};

const POSTGRES_LEVELS = ['read-committed', 'repeatable-read', 'serializable'] as const;

/** The same rows by level: for each of PostgreSQL's levels, anomaly name → prevented. */
export const POSTGRES_EXPECTED = Object.fromEntries(
  POSTGRES_LEVELS.map((level, column) => [
    level,
    Object.fromEntries(Object.entries(POSTGRES_PREVENTS).map(([name, prevents]) => [name, prevents[column]])),
  ]),
) as Record<(typeof POSTGRES_LEVELS)[number], Record<string, boolean>>;
