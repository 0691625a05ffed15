// The child process of the crash-loop test (RocksDB's db_crashtest.py idea): writes with
// sync: true, a few at a time, and appends each acknowledged key to an expected-state file
// only after the write resolved. The parent SIGKILLs it at random moments and checks that
// every acknowledged key survived. Usage: node crash-writer.js <dbDir> <stateFile> <generation>
import { appendFileSync } from 'node:fs';
import { LsmLevel } from '../lsm-level.js';
import { expectedValue } from './expected-value.js';

const IN_FLIGHT = 4;

async function main(): Promise<void> {
  const [dir, stateFile, generation] = process.argv.slice(2);
  if (!dir || !stateFile || !generation) {
    console.error('usage: crash-writer <dbDir> <stateFile> <generation>');
    process.exit(2);
  }
  const db = new LsmLevel(dir, {
    writeBufferBytes: 64 * 1024,
    targetFileBytes: 64 * 1024,
    levelBaseBytes: 256 * 1024,
    l0CompactionTrigger: 2,
  });
  await db.open();
  process.stdout.write('ready\n');
  let n = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const key = `g${generation.padStart(5, '0')}-${String(n++).padStart(7, '0')}`;
      // sync is an engine option abstract-level's typings leave out (classic-level has it too).
      await db.put(key, expectedValue(key), { sync: true } as object);
      appendFileSync(stateFile, `${key}\n`);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
