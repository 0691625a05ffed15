// Runs Hermitage scenarios against a driver (our engine, or PostgreSQL) and tabulates how
// each isolation level dealt with each anomaly. A step that has not finished when the next
// one is issued is "blocked" (it waits for a lock); later steps of the same transaction
// queue behind it, as they would in a psql session.
import {
  classify,
  type Op,
  type Outcome,
  type Results,
  SCENARIOS,
  type Scenario,
  type StepResult,
} from './scenarios.js';

export interface HermitageDriver {
  readonly name: string;
  /** Recreates test(id, value) = {(1, 10), (2, 20)} with no transaction open. */
  reset(): Promise<void>;
  /** Runs one step for transaction `tx`; errors are returned, never thrown. */
  exec(tx: string, op: Op, isolation: string): Promise<Omit<StepResult, 'blocked'>>;
  /** Waits long enough that a step which is not blocked has finished. */
  settle(): Promise<void>;
  /** Rolls back whatever a scenario left open. */
  cleanup(): Promise<void>;
  close(): Promise<void>;
}

/** A scenario that has not finished this long after its last step is reported as stuck. */
export const SCENARIO_DEADLINE_MS = 15_000;

export async function runScenario(
  driver: HermitageDriver,
  scenario: Scenario,
  isolation: string,
): Promise<Results> {
  await driver.reset();
  const chains = new Map<string, Promise<void>>();
  const results: Results = {};
  for (const [i, step] of scenario.steps.entries()) {
    const result: StepResult = { blocked: false };
    results[step.label ?? `#${i} ${step.tx} ${step.op}`] = result;
    let settled = false;
    const previous = chains.get(step.tx) ?? Promise.resolve();
    const run = previous
      .then(async () => Object.assign(result, await driver.exec(step.tx, step, isolation)))
      .then(() => {
        settled = true;
      });
    chains.set(step.tx, run);
    await driver.settle();
    if (!settled) result.blocked = true;
  }
  let timer: NodeJS.Timeout | undefined;
  const stuck = new Promise<'stuck'>((resolve) => {
    timer = setTimeout(() => resolve('stuck'), SCENARIO_DEADLINE_MS);
  });
  const end = await Promise.race([Promise.all(chains.values()), stuck]);
  clearTimeout(timer);
  await driver.cleanup();
  if (end === 'stuck')
    throw new Error(`${driver.name}: scenario ${scenario.name} at ${isolation} never finished`);
  return results;
}

export type OutcomeTable = Record<string, Record<string, Outcome>>;

export async function runAll(
  driver: HermitageDriver,
  levels: readonly string[],
  scenarios: readonly Scenario[] = SCENARIOS,
): Promise<{ table: OutcomeTable; results: Record<string, Record<string, Results>> }> {
  const table: OutcomeTable = {};
  const results: Record<string, Record<string, Results>> = {};
  for (const level of levels) {
    table[level] = {};
    results[level] = {};
    for (const scenario of scenarios) {
      const r = await runScenario(driver, scenario, level);
      results[level]![scenario.name] = r;
      table[level]![scenario.name] = classify(scenario, r);
    }
  }
  return { table, results };
}

const CELL: Record<Outcome, string> = {
  'not prevented': '—',
  prevented: '✓',
  blocked: '✓ blocks',
  aborted: '✓ aborts',
};

/** A markdown table: one row per level, one column per anomaly. */
export function formatTable(
  title: string,
  table: OutcomeTable,
  scenarios: readonly Scenario[] = SCENARIOS,
): string {
  const header = `| ${title} | ${scenarios.map((s) => s.name).join(' | ')} |`;
  const rule = `|:--|${scenarios.map(() => ':-:').join('|')}|`;
  const rows = Object.entries(table).map(
    ([level, row]) => `| ${level} | ${scenarios.map((s) => CELL[row[s.name]!]).join(' | ')} |`,
  );
  return [header, rule, ...rows].join('\n');
}

export const TABLE_LEGEND =
  '✓ = prevented (the level never showed the anomaly), ✓ blocks = prevented by a transaction waiting for a lock, ' +
  '✓ aborts = prevented by aborting a transaction (serialization failure or deadlock), — = not prevented: the anomaly happened.';
