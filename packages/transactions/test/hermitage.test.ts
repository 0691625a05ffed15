// Hermitage (ept/hermitage) as executable scenarios: our read-committed, repeatable-read
// and serializable rows must equal PostgreSQL's published rows cell for cell.
import { describe, expect, it } from 'vitest';
import { ISOLATION_LEVELS } from '../src/engine/transaction.js';
import { EngineDriver } from '../src/hermitage/engine-driver.js';
import { formatTable, runAll } from '../src/hermitage/runner.js';
import { POSTGRES_EXPECTED, SCENARIOS } from '../src/hermitage/scenarios.js';

describe('Hermitage scenarios at every isolation level', async () => {
  const driver = new EngineDriver();
  const { table, results } = await runAll(driver, ISOLATION_LEVELS);
  console.log(formatTable('level', table));

  for (const level of ['read-committed', 'repeatable-read', 'serializable'] as const) {
    it(`${level} prevents exactly what PostgreSQL's ${level} prevents`, () => {
      const ours = Object.fromEntries(
        SCENARIOS.map((s) => [s.name, table[level]![s.name] !== 'not prevented']),
      );
      expect(ours, JSON.stringify(results[level], null, 1)).toEqual(POSTGRES_EXPECTED[level]);
    });
  }

  it('read-uncommitted shows dirty reads (G1a, G1b, G1c) but still prevents dirty writes (G0)', () => {
    const ru = table['read-uncommitted']!;
    expect(ru.G1a).toBe('not prevented');
    expect(ru.G1b).toBe('not prevented');
    expect(ru.G1c).toBe('not prevented');
    expect(ru.G0).toBe('blocked');
  });

  it('serializable-2pl and serial prevent every anomaly', () => {
    for (const level of ['serializable-2pl', 'serial']) {
      for (const s of SCENARIOS)
        expect(`${level} ${s.name} ${table[level]![s.name]}`).not.toMatch(/not prevented/);
    }
  });

  it('repeatable-read prevents lost update by aborting the second updater (first updater wins)', () => {
    expect(table['repeatable-read']!.P4).toBe('aborted');
    expect(table['read-committed']!.G0).toBe('blocked');
  });

  it('serializable aborts write skew and Fekete’s read-only anomaly; 2PL blocks or deadlocks instead', () => {
    expect(table.serializable!['G2-item']).toBe('aborted');
    expect(table.serializable!.G2).toBe('aborted');
    expect(table.serializable!.Fekete).toBe('aborted');
    expect(['blocked', 'aborted']).toContain(table['serializable-2pl']!['G2-item']);
  });
});
