// --compare-postgres as a test (DDIA_LONG=1, needs PostgreSQL installed or DDIA_PG_URL):
// the live PostgreSQL rows must equal ours for read committed, repeatable read, serializable.
import { describe, expect, it } from 'vitest';
import { EngineDriver } from '../src/hermitage/engine-driver.js';
import { PostgresDriver } from '../src/hermitage/postgres-driver.js';
import { runAll } from '../src/hermitage/runner.js';
import { findPostgresBin, startLocalPostgres } from '../src/postgres/local-postgres.js';

const LEVELS = ['read-committed', 'repeatable-read', 'serializable'];
const available = findPostgresBin() !== null || process.env.DDIA_PG_URL !== undefined;
const enabled = process.env.DDIA_LONG === '1' && available;
if (!enabled)
  console.log('hermitage vs live PostgreSQL: skipped (needs DDIA_LONG=1 and PostgreSQL installed)');

describe.skipIf(!enabled)('Hermitage against a live PostgreSQL', () => {
  it('our rows equal PostgreSQL’s, including whether a case blocks or aborts', async () => {
    const server = await startLocalPostgres({ fsync: false });
    const driver = new PostgresDriver(server.url);
    try {
      const pg = await runAll(driver, LEVELS);
      const ours = await runAll(new EngineDriver(), LEVELS);
      expect(ours.table).toEqual(pg.table);
    } finally {
      await driver.close();
      await server.stop();
    }
  }, 300_000);
});
