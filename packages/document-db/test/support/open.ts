import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { type EngineName, openStore, type Store } from '@ddia/common';
import { lsmEngine } from '@ddia/lsm-engine';
import { DocumentDatabase } from '../../src/storage/database.js';

export async function openDb(
  engine: EngineName = 'memory',
  dataDir?: string,
): Promise<{ db: DocumentDatabase; store: Store; dataDir: string }> {
  const dir = dataDir ?? mkdtempSync(join(os.tmpdir(), 'docdb-'));
  const store = await openStore({
    engine,
    dataDir: dir,
    name: 'documents',
    lsm: lsmEngine,
    keyEncoding: 'view',
    valueEncoding: 'view',
  });
  const db = await DocumentDatabase.open(store, () => performance.now());
  return { db, store, dataDir: dir };
}
