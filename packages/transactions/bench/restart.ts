// Restart time after a long history, with and without a WAL checkpoint.
//   node --import tsx bench/restart.ts [--transactions N] (default 1,000,000)
// Writes the WAL of N committed transfers between 1000 accounts: the exact commit records the
// engine writes, appended in batches (committing a million transfers through the engine on a
// loaded 2-core machine takes longer than the bench lock allows), with no checkpoint, so the
// WAL holds the whole history. Then it times opens of that directory:
//   replay all   no checkpoint: every record replayed (what every restart did before checkpoints)
//   checkpoint   after `checkpoint()`: the image loaded, nothing left to replay
//   worst case   under the default trigger: the image plus up to 32 MiB of WAL (estimated
//                from the measured replay rate, not run)
// Each open is checked against the balances the records describe.
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Log, SystemClock } from '@ddia/common';
import { CHECKPOINT_WAL_BYTES_DEFAULT, WAL_SEGMENT_BYTES } from '../src/durability/checkpoint.js';
import { openDatabase } from '../src/durability/wal.js';
import { encodeWalRecord } from '../src/engine/wal-record.js';

const { values } = parseArgs({ options: { transactions: { type: 'string' } } });
const TRANSACTIONS = Number(values.transactions ?? 1_000_000);
if (!Number.isInteger(TRANSACTIONS) || TRANSACTIONS < 1) {
  console.error('--transactions must be a positive integer');
  process.exit(2);
}
const ACCOUNTS = 1000;
/** Records per append: one write and one O_DSYNC per batch. */
const BATCH = 1000;
const FIRST_TX_ID = 1_000_000;
const RESULTS = new URL('./results/', import.meta.url).pathname;

const dir = await mkdtemp(join(tmpdir(), 'ddia-tx-restart-'));
const open = () => openDatabase({ clock: new SystemClock(), dataDir: dir, checkpointWalBytes: 0 });
try {
  const load = [loadavg()[0]!];
  const created = await open();
  await created.db.createTable('accounts', 'id');
  await created.db.transact('read-committed', async (s) => {
    for (let id = 0; id < ACCOUNTS; id++) await s.insert('accounts', { id, balance: 1000 });
  });
  await created.close();

  const balances = new Array<number>(ACCOUNTS).fill(1000);
  const log = await Log.open({ dir: join(dir, 'wal'), fsync: 'group', segmentBytesMax: WAL_SEGMENT_BYTES });
  const t0 = performance.now();
  for (let i = 0; i < TRANSACTIONS; i += BATCH) {
    const records: Uint8Array[] = [];
    for (let j = i; j < Math.min(TRANSACTIONS, i + BATCH); j++) {
      const from = j % ACCOUNTS;
      const to = (from + 1 + (j % (ACCOUNTS - 1))) % ACCOUNTS;
      balances[from]! -= 1;
      balances[to]! += 1;
      const writes = [from, to].map((id) => ({
        table: 'accounts',
        key: String(id),
        row: { id, balance: balances[id]! },
      }));
      records.push(encodeWalRecord({ type: 'commit', txId: FIRST_TX_ID + j, writes }));
    }
    await log.appendBatch(records);
    if (i % 100_000 === 0) console.log(`${i} transfers written`);
  }
  await log.close();
  const writeS = (performance.now() - t0) / 1000;
  const expected = JSON.stringify(balances.map((balance, id) => ({ id, balance })));
  let walBytes = 0;
  for (const name of await readdir(join(dir, 'wal'))) walBytes += (await stat(join(dir, 'wal', name))).size;

  const timeOpen = async () => {
    const start = performance.now();
    const o = await open();
    const ms = performance.now() - start;
    if (JSON.stringify(o.db.committedRows('accounts')) !== expected)
      throw new Error('the reopened database differs from the history that was written');
    return { o, ms };
  };
  const full = await timeOpen();
  const stats = await full.o.checkpoint();
  await full.o.close();
  const after = await timeOpen();
  await after.o.close();
  load.push(loadavg()[0]!);

  const replayedPerS = full.o.recovered / (full.ms / 1000);
  const recordBytes = walBytes / full.o.recovered;
  const worstMs = after.ms + (CHECKPOINT_WAL_BYTES_DEFAULT / recordBytes / replayedPerS) * 1000;
  const result = {
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`,
    transactions: TRANSACTIONS,
    accounts: ACCOUNTS,
    writeSeconds: Number(writeS.toFixed(1)),
    replayAll: { records: full.o.recovered, walBytes, ms: Math.round(full.ms) },
    checkpoint: {
      imageBytes: stats.bytes,
      walIndex: stats.walIndex,
      replayed: after.o.recovered,
      ms: Math.round(after.ms),
    },
    worstCaseWithDefaultTriggerMs: Math.round(worstMs),
    load1: load.map((l) => Number(l.toFixed(2))),
  };
  console.log(JSON.stringify(result, null, 2));
  await writeFile(join(RESULTS, 'restart.json'), `${JSON.stringify(result, null, 2)}\n`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
