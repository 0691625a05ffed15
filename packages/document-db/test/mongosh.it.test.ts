// mongosh, the MongoDB shell, against our wire protocol. mongosh is not installed on every
// machine (it is an npm package of about 200 MB): it is looked for in $MONGOSH, on the PATH
// (`npm install -g mongosh`), and in npx's cache (after `npx -y mongosh@2 --version`); without
// it this test is skipped and says why in its name.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DocumentDbNode } from '../src/node.js';
import { startTestNode } from './support/node.js';

const run = promisify(execFile);
function findMongosh(): string | undefined {
  const npxCache = join(process.env['npm_config_cache'] ?? join(homedir(), '.npm'), '_npx');
  const cached = existsSync(npxCache)
    ? readdirSync(npxCache).map((d) => join(npxCache, d, 'node_modules', '.bin', 'mongosh'))
    : [];
  const candidates = [process.env['MONGOSH'], 'mongosh', ...cached.filter((p) => existsSync(p))];
  return candidates.find(
    (c) => c !== undefined && spawnSync(c, ['--version'], { encoding: 'utf8', timeout: 60_000 }).status === 0,
  );
}

const MONGOSH = findMongosh();
const HAS_MONGOSH = MONGOSH !== undefined;
const NAME = HAS_MONGOSH
  ? 'mongosh: insert, find with a filter, an index, explain and aggregate'
  : 'mongosh: skipped, mongosh is not installed (npm install -g mongosh, or npx -y mongosh@2 --version)';

describe('mongosh against document-db', () => {
  let node: DocumentDbNode | undefined;
  beforeAll(async () => {
    if (HAS_MONGOSH) node = await startTestNode();
  });
  afterAll(async () => {
    await node?.service.close();
  });

  it.skipIf(!HAS_MONGOSH)(
    NAME,
    async () => {
      const script = `
        db.people.insertMany([{ name: 'Ada', langs: ['en', 'fr'] }, { name: 'Alan', langs: ['en'] }]);
        db.people.createIndex({ langs: 1 });
        const plan = db.people.find({ langs: 'fr' }).explain('executionStats');
        print(JSON.stringify({
          fr: db.people.find({ langs: 'fr' }, { _id: 0, name: 1 }).toArray(),
          stage: plan.queryPlanner.winningPlan.inputStage.stage,
          byLang: db.people.aggregate([{ $unwind: '$langs' }, { $group: { _id: '$langs', n: { $sum: 1 } } }, { $sort: { _id: 1 } }]).toArray(),
        }));`;
      const { stdout } = await run(
        MONGOSH!,
        ['--quiet', '--norc', `mongodb://127.0.0.1:${node!.mongoPort}/app`, '--eval', script],
        { timeout: 60_000 },
      );
      const answer = JSON.parse(stdout.trim().split('\n').pop()!);
      expect(answer).toEqual({
        fr: [{ name: 'Ada' }],
        stage: 'IXSCAN',
        byLang: [
          { _id: 'en', n: 2 },
          { _id: 'fr', n: 1 },
        ],
      });
    },
    90_000,
  );
});
