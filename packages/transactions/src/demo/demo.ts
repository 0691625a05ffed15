// `ddia demo transactions` / `pnpm --filter @ddia/transactions demo`: the book's stories at
// every isolation level, side by side.
import { SystemClock } from '@ddia/common';
import { Database } from '../engine/database.js';
import { ISOLATION_LEVELS, type Isolation } from '../engine/transaction.js';
import { runStory, STORIES } from './stories.js';

export interface DemoIo {
  log(line: string): void;
}

export interface DemoOutcome {
  story: string;
  isolation: Isolation;
  anomaly: boolean;
  text: string;
}

export async function runTransactionsDemo(
  io: DemoIo = { log: (l) => console.log(l) },
): Promise<DemoOutcome[]> {
  const outcomes: DemoOutcome[] = [];
  for (const story of STORIES) {
    io.log(`\n### ${story.name} (${story.figure})`);
    for (const isolation of ISOLATION_LEVELS) {
      const db = new Database({ clock: new SystemClock(), lockTimeoutMs: 3_000 });
      const results = await runStory(db, story, isolation);
      const verdict = story.verdict(results, db);
      const { anomaly } = verdict;
      const text =
        isolation === 'serial'
          ? verdict.text.replace(
              'a transaction waited for a lock',
              'the second transaction waited for its turn',
            )
          : verdict.text;
      outcomes.push({ story: story.name, isolation, anomaly, text });
      io.log(`  ${anomaly ? '✗' : '✓'} ${isolation.padEnd(17)} ${text}`);
    }
  }
  io.log('\n✗ = the anomaly happened, ✓ = the level prevented it (and how).');
  return outcomes;
}
