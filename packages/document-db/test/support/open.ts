import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { type EngineName, openStore, type Store } from '@ddia/common';
import { lsmEngine } from '@ddia/lsm-engine';
import { onTestFinished } from 'vitest';
import { DocumentDatabase } from '../../src/storage/database.js';

/**
 * A database on a fresh store for one test. The memory engine needs no directory; a disk engine
 * without `dataDir` gets a temporary one that is removed when the test ends (pass `dataDir` to
 * reopen the same files within the test). Every store opened here is closed when the test ends.
 * Call it inside a test (`it`), not in a `beforeAll`.
 */
export async function openDb(
  engine: EngineName = 'memory',
  dataDir?: string,
): Promise<{ db: DocumentDatabase; store: Store; dataDir: string }> {
  const owned = dataDir === undefined && engine !== 'memory';
  const dir = owned ? mkdtempSync(join(os.tmpdir(), 'docdb-')) : (dataDir ?? '');
  const store = await openStore({
    engine,
    dataDir: dir,
    name: 'documents',
    lsm: lsmEngine,
    keyEncoding: 'view',
    valueEncoding: 'view',
  });
  onTestFinished(async () => {
    await store.close();
    if (owned) rmSync(dir, { recursive: true, force: true });
  });
  const db = await DocumentDatabase.open(store, () => performance.now());
  return { db, store, dataDir: dir };
}
