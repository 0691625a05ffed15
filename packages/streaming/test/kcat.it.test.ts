// librdkafka through Debian's kcat (or its old name kafkacat), when installed: produce lines,
// consume them back. Skipped with a reason where the tool is absent (CI: apt-get install kcat).
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrokerNode } from '../src/node.js';
import { removeTempDir, startBroker, tempDir } from './support/broker.js';

function findKcat(): string | null {
  for (const name of ['kcat', 'kafkacat']) {
    if (spawnSync('which', [name]).status === 0) return name;
  }
  return null;
}

const kcat = findKcat();
const run = promisify(execFile);
if (!kcat)
  console.log('kcat tests skipped: neither kcat nor kafkacat is installed (Debian: apt-get install kcat)');

describe.skipIf(!kcat)('kcat (librdkafka)', () => {
  let dir: string;
  let node: BrokerNode;
  beforeAll(async () => {
    dir = await tempDir();
    node = await startBroker(dir);
  });
  afterAll(async () => {
    await node?.close();
    await removeTempDir(dir);
  });

  // Asynchronous child processes: the broker runs in this process and must keep answering.
  it('produces lines and consumes them back in order', async () => {
    const lines = Array.from({ length: 20 }, (_, i) => `line-${i}`);
    const producer = execFile(kcat!, ['-b', node.bootstrap, '-t', 'kcat-topic', '-P'], { timeout: 30_000 });
    let stderr = '';
    producer.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    producer.stdin!.end(`${lines.join('\n')}\n`);
    await new Promise<void>((resolve, reject) =>
      producer.on('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`kcat -P exited ${code}: ${stderr.trim()}`)),
      ),
    );
    const { stdout } = await run(
      kcat!,
      ['-b', node.bootstrap, '-t', 'kcat-topic', '-C', '-o', 'beginning', '-e', '-q'],
      { timeout: 30_000 },
    );
    expect(stdout.trim().split('\n')).toEqual(lines);
  }, 60_000);
});
