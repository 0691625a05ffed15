// CPU per operation in process: the command layer, the engine on the LSM store and the reply's
// encoding, without the driver or a socket (on a loaded shared machine, CPU time per operation
// says more than wall-clock throughput). `--src DIR` measures another copy of src/ (e.g. an
// older commit's, from git archive) for a before/after. `--profile DIR` writes one V8 CPU
// profile per phase there (open in Chrome DevTools or speedscope).
//   node --import tsx bench/cpu-per-op.ts [--src DIR] [--docs N] [--profile DIR]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openStore } from '@ddia/common';
import { lsmEngine } from '@ddia/lsm-engine';
import { person } from './support.js';

const { values } = parseArgs({
  options: { src: { type: 'string' }, docs: { type: 'string' }, profile: { type: 'string' } },
});
const SRC = values.src ?? new URL('../src', import.meta.url).pathname;
const N = Number(values.docs ?? 20_000);
const which = SRC;
const { runCommand } = await import(join(SRC, 'wire/commands.ts'));
const { CursorTable } = await import(join(SRC, 'wire/cursors.ts'));
const { encodeMsgReply } = await import(join(SRC, 'wire/codec.ts'));
const { DocumentDatabase } = await import(join(SRC, 'storage/database.ts'));
const dataDir = mkdtempSync(join(os.tmpdir(), 'docdb-cmp-'));
const store = await openStore({
  engine: 'lsm',
  dataDir,
  name: 'd',
  lsm: lsmEngine,
  keyEncoding: 'view',
  valueEncoding: 'view',
});
const db = await DocumentDatabase.open(store, () => performance.now());
await db.createIndex('b', 'p', { key: { city: 1 } });
await db.createIndex('b', 'p', { key: { age: 1 } });
await db.createIndex('b', 'regions', { key: { name: 1 } });
await db.insertMany(
  'b',
  'regions',
  Array.from({ length: 50 }, (_, i) => ({ _id: `city${i}`, name: `Region ${i}` })),
);
const c0 = process.cpuUsage();
for (let i = 0; i < N; i += 1000)
  await db.insertMany(
    'b',
    'p',
    Array.from({ length: 1000 }, (_, j) => person(i + j)),
  );
const c = process.cpuUsage(c0);
const out: Record<string, number> = { insert: (c.user + c.system) / N };
const ctx = {
  engine: db,
  cursors: new CursorTable(60000, () => performance.now()),
  connectionId: 1,
  nowMs: () => performance.now(),
};
const cmd = async (x: object) => encodeMsgReply(1, 1, await runCommand(x, ctx));
const profiler = values.profile === undefined ? undefined : new Session();
if (profiler) {
  mkdirSync(values.profile!, { recursive: true });
  profiler.connect();
  await profiler.post('Profiler.enable');
}
async function time(name: string, n: number, f: (i: number) => Promise<unknown>) {
  for (let i = 0; i < Math.min(200, n); i++) await f(i);
  if (profiler) await profiler.post('Profiler.start');
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) await f(i);
  const c = process.cpuUsage(c0);
  out[name] = (c.user + c.system) / n;
  if (profiler) {
    const { profile } = await profiler.post('Profiler.stop');
    writeFileSync(join(values.profile!, `${name}.cpuprofile`), JSON.stringify(profile));
  }
}
await time('pointById', 4000, (i) =>
  cmd({ find: 'p', filter: { _id: (i * 7919) % N }, limit: 1, singleBatch: true, $db: 'b' }),
);
await time('eqIndexed', 2000, (i) =>
  cmd({ find: 'p', filter: { city: `city${i % 50}` }, limit: 10, $db: 'b' }),
);
await time('rangeIndexed', 2000, (i) =>
  cmd({ find: 'p', filter: { age: { $gte: 18 + (i % 60), $lt: 19 + (i % 60) } }, limit: 10, $db: 'b' }),
);
await time('lookup20', 300, (i) =>
  cmd({
    aggregate: 'p',
    pipeline: [
      { $match: { age: 18 + (i % 60) } },
      { $limit: 20 },
      { $lookup: { from: 'regions', localField: 'city', foreignField: '_id', as: 'r' } },
    ],
    cursor: {},
    $db: 'b',
  }),
);
await time('groupBy', 3, () =>
  cmd({ aggregate: 'p', pipeline: [{ $group: { _id: '$city', n: { $sum: 1 } } }], cursor: {}, $db: 'b' }),
);
console.log(
  JSON.stringify({ which, ...Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Math.round(v)])) }),
);
await store.close();
rmSync(dataDir, { recursive: true, force: true });
