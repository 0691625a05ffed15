// Records the request frames librdkafka (Debian's kcat) sends, one per (API, version), as test
// fixtures beside kafkajs's:
//   node --import tsx packages/streaming/test/support/capture-kcat-fixtures.ts
// Run it again only when the kcat package changes; fixtures.test.ts decodes what it wrote.
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { removeTempDir, startCapturingBroker, tempDir } from './broker.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/kcat/', import.meta.url));
const KCAT_TIMEOUT_MS = 30_000;
const run = promisify(execFile);
const dir = await tempDir();
const { node, captured } = await startCapturingBroker(dir);
const kcat = (args: string[], input?: string) => {
  const child = run('kcat', ['-b', node.bootstrap, '-X', 'client.id=fixture-kcat', ...args], {
    timeout: KCAT_TIMEOUT_MS,
  });
  if (input !== undefined) child.child.stdin!.end(input);
  return child;
};
await kcat(['-t', 'fixture-topic', '-P', '-k', 'fixture-key'], 'fixture-value\n');
await kcat(['-L']);
await kcat(['-t', 'fixture-topic', '-C', '-o', 'beginning', '-e', '-q']);
await kcat(['-G', 'fixture-group', '-o', 'beginning', '-e', '-q', 'fixture-topic']);
await kcat(['-G', 'fixture-group', '-e', '-q', 'fixture-topic']); // reads the committed offset
await node.close();
await removeTempDir(dir);
await mkdir(FIXTURES, { recursive: true });
for (const [name, frame] of captured) await writeFile(`${FIXTURES}${name}.bin`, frame);
console.log(`wrote ${captured.size} fixtures: ${[...captured.keys()].sort().join(', ')}`);
