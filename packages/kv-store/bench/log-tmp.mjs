import { mkdtempSync } from 'node:fs';
import { Log } from '@ddia/common';

const log = await Log.open({
  dir: mkdtempSync('/tmp/logt-'),
  fsync: process.argv[2] ?? 'group',
  firstIndex: 1,
});
const rec = new Uint8Array(300);
for (let round = 0; round < 2; round++) {
  const t = performance.now();
  for (let i = 0; i < 500; i++) await log.append(rec);
  console.log('append latency ms', ((performance.now() - t) / 500).toFixed(3), log.stats);
}
await log.close();
