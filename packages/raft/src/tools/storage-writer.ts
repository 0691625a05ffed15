// A process that writes Raft state through FileStorage as fast as it can and prints a line
// after each save resolves ("acked <index> <term>"). The crash test SIGKILLs it mid-write and
// checks that everything acknowledged survived: `save` resolving means durable.
// Usage: node dist/tools/storage-writer.js <dir> [fsync=always|group]
import { FileStorage } from '../storage/file-storage.js';

const ENTRIES_PER_SAVE = 8;

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: storage-writer <dir> [always|group]');
    process.exit(2);
  }
  const fsync = process.argv[3] === 'always' ? 'always' : 'group';
  const storage = await FileStorage.open({ dir, fsync });
  const state = await storage.load();
  let next = (state?.entries.at(-1)?.index ?? 0) + 1;
  let term = state?.hardState.term ?? 0;
  for (;;) {
    term++;
    const entries = Array.from({ length: ENTRIES_PER_SAVE }, (_, i) => ({
      index: next + i,
      term,
      type: 'normal' as const,
      data: new TextEncoder().encode(`entry-${next + i}`),
    }));
    await storage.save({ snapshot: null, entries, hardState: { term, vote: 'n1', commit: next - 1 } });
    next += ENTRIES_PER_SAVE;
    process.stdout.write(`acked ${next - 1} ${term}\n`);
  }
}

void main();
