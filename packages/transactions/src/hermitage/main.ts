// `pnpm --filter @ddia/transactions hermitage [--compare-postgres] [--install-postgres]`
// Runs every Hermitage scenario at every isolation level and prints the table; with
// --compare-postgres, runs the same scenarios against a local PostgreSQL and prints both,
// plus the cells where PostgreSQL's prevention differs from ours.
import { parseArgs } from 'node:util';
import { ISOLATION_LEVELS } from '../engine/transaction.js';
import {
  findPostgresBin,
  INSTALL_HINT,
  installPostgres,
  PostgresUnavailableError,
  startLocalPostgres,
} from '../postgres/local-postgres.js';
import { EngineDriver } from './engine-driver.js';
import { PostgresDriver } from './postgres-driver.js';
import { formatTable, runAll, TABLE_LEGEND } from './runner.js';
import { SCENARIOS } from './scenarios.js';

const { values } = parseArgs({
  options: {
    'compare-postgres': { type: 'boolean', default: false },
    'install-postgres': { type: 'boolean', default: false },
  },
});

const ours = await runAll(new EngineDriver(), ISOLATION_LEVELS);
console.log('## ddia-transactions\n');
console.log(formatTable('level', ours.table));
console.log(`\n${TABLE_LEGEND}\n`);
for (const s of SCENARIOS) console.log(`- ${s.name}: ${s.title}. ${s.description}`);

if (values['compare-postgres']) {
  if (!findPostgresBin() && !process.env.DDIA_PG_URL) {
    if (values['install-postgres']) await installPostgres();
    else {
      console.error(
        `\n${INSTALL_HINT}\nOr rerun with --install-postgres to run apt-get for you (needs root).`,
      );
      process.exit(1);
    }
  }
  let server: Awaited<ReturnType<typeof startLocalPostgres>>;
  try {
    server = await startLocalPostgres({ fsync: false });
  } catch (e) {
    if (e instanceof PostgresUnavailableError) {
      console.error(e.message);
      process.exit(1);
    }
    throw e;
  }
  const driver = new PostgresDriver(server.url);
  try {
    const pg = await runAll(driver, PostgresDriver.levels());
    console.log(`\n## PostgreSQL (${server.version})\n`);
    console.log(formatTable('level', pg.table));
    const differences: string[] = [];
    for (const level of PostgresDriver.levels()) {
      for (const s of SCENARIOS) {
        const a = ours.table[level]![s.name]!;
        const b = pg.table[level]![s.name]!;
        if ((a === 'not prevented') !== (b === 'not prevented'))
          differences.push(`${level} ${s.name}: ours ${a}, PostgreSQL ${b}`);
      }
    }
    console.log(
      differences.length === 0
        ? '\nSame prevention as PostgreSQL in every cell (read uncommitted in PostgreSQL behaves as read committed, so its dirty-read cells differ by design).'
        : `\nDifferences (PostgreSQL's read uncommitted is read committed, so dirty-read cells differ by design):\n${differences.map((d) => `- ${d}`).join('\n')}`,
    );
  } finally {
    await driver.close();
    await server.stop();
  }
}
