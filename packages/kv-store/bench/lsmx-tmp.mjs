import '@ddia/lsm-engine';
import { openStore } from '@ddia/common';
import { mkdtempSync } from 'node:fs';
for (const engine of ['memory', 'level', 'lsm']) {
  const db = await openStore({ engine, dataDir: mkdtempSync('/tmp/lsmx-'), name: 'kv', keyEncoding: 'view', valueEncoding: 'view' });
  const val = new Uint8Array(300);
  const keys = Array.from({ length: 1000 }, (_, i) => new TextEncoder().encode(`\x01key${i}`));
  const N = 3000, PER = 18;
  for (let round = 0; round < 2; round++) {
    const c = process.cpuUsage(); const t = performance.now();
    for (let i = 0; i < N; i++) {
      const ks = Array.from({ length: PER }, (_, j) => keys[(i * PER + j * 7919) % 1000]);
      await db.getMany(ks);
      await db.batch(ks.map((k) => ({ type: 'put', key: k, value: val })).concat([{ type: 'put', key: new Uint8Array([0]), value: val }]));
    }
    const u = process.cpuUsage(c);
    if (round) console.log(engine, 'per entry: cpu', ((u.user + u.system) / N / PER).toFixed(1), 'us, wall', ((performance.now() - t) * 1000 / N / PER).toFixed(1), 'us');
  }
  await db.close();
}
