// Child process for the crash test: ingests numbered scrapes forever, syncing the WAL every
// few scrapes and printing "synced <scrapes>" after each sync, until it is killed. Plain
// JavaScript over the built package (dist/), so the child starts without tsx's compiler.
import { labelsFromRecord } from '../../dist/core/labels.js';
import { DiskTsdb } from '../../dist/storage/disk-tsdb.js';

const dataDir = process.argv[2];
const SERIES = 20;
const SYNC_EVERY = 7;
const tsdb = await DiskTsdb.open({ dataDir, walFsync: 'never' });
const labels = Array.from({ length: SERIES }, (_, i) =>
  labelsFromRecord({ __name__: 'crash_test_total', series: String(i) }),
);
for (let scrape = 1; ; scrape++) {
  await tsdb.ingest(labels.map((l, i) => ({ labels: l, t: scrape * 1000, value: scrape * SERIES + i })));
  if (scrape % SYNC_EVERY === 0) {
    await tsdb.sync();
    process.stdout.write(`synced ${scrape}\n`);
  }
}
