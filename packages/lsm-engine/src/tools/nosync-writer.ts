// Child process of test/background.test.ts: writes without sync, one awaited put at a time,
// and prints how many have been acknowledged. The parent SIGKILLs it and checks that every
// acknowledged write survived (it was in the page cache; only a power cut could lose it).
// Usage: node nosync-writer.js <dbDir>
import { LsmLevel } from '../lsm-level.js';

const ACK_REPORT_EVERY = 500;

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: nosync-writer <dbDir>');
    process.exit(2);
  }
  const db = new LsmLevel(dir, { writeBufferBytes: 512 * 1024 });
  await db.open();
  for (let i = 0; ; i++) {
    await db.put(`k${String(i).padStart(9, '0')}`, `v${i}-`.repeat(12).padEnd(100, '.'));
    // Report only after the put resolved, so every number printed is acknowledged.
    if ((i + 1) % ACK_REPORT_EVERY === 0) process.stdout.write(`acked ${i + 1}\n`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
