// librdkafka through Debian's kcat (or its old name kafkacat), when installed: produce lines,
// consume them back, list metadata, consume in a group that commits and resumes. Skipped with a
// reason where the tool is absent (CI: apt-get install kcat).
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
const KCAT_TIMEOUT_MS = 30_000;
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
  async function produce(topic: string, lines: string[]): Promise<void> {
    const producer = execFile(kcat!, ['-b', node.bootstrap, '-t', topic, '-P'], { timeout: KCAT_TIMEOUT_MS });
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
  }

  it('produces lines and consumes them back in order', async () => {
    const lines = Array.from({ length: 20 }, (_, i) => `line-${i}`);
    await produce('kcat-topic', lines);
    const { stdout } = await run(
      kcat!,
      ['-b', node.bootstrap, '-t', 'kcat-topic', '-C', '-o', 'beginning', '-e', '-q'],
      { timeout: KCAT_TIMEOUT_MS },
    );
    expect(stdout.trim().split('\n')).toEqual(lines);
  }, 60_000);

  it('-L lists this broker as controller and the topic with its leader and ISR', async () => {
    const { stdout } = await run(kcat!, ['-b', node.bootstrap, '-L', '-t', 'kcat-topic'], {
      timeout: KCAT_TIMEOUT_MS,
    });
    expect(stdout).toContain(`broker ${node.broker.nodeId} at ${node.bootstrap} (controller)`);
    expect(stdout).toContain('topic "kcat-topic" with 1 partitions:');
    expect(stdout).toMatch(/partition 0, leader \d+, replicas: \d+, isrs: \d+/);
  }, 60_000);

  it('-G: a group reads from the beginning, commits on exit, and its next run resumes after the commit', async () => {
    // Without -o (kcat's -o overrides the committed offset): the group starts where it committed,
    // or, having committed nothing, at the beginning.
    const group = [
      '-b',
      node.bootstrap,
      '-G',
      'kcat-group',
      '-X',
      'auto.offset.reset=earliest',
      '-e',
      '-q',
      'kcat-group-topic',
    ];
    const first = Array.from({ length: 5 }, (_, i) => `first-${i}`);
    await produce('kcat-group-topic', first);
    const one = await run(kcat!, group, { timeout: KCAT_TIMEOUT_MS });
    expect(one.stdout.trim().split('\n')).toEqual(first);
    expect(node.broker.coordinator.committed('kcat-group', 'kcat-group-topic', 0)?.offset).toBe(first.length);
    const second = ['second-0', 'second-1'];
    await produce('kcat-group-topic', second);
    const two = await run(kcat!, group, { timeout: KCAT_TIMEOUT_MS });
    expect(two.stdout.trim().split('\n')).toEqual(second);
    expect(node.broker.coordinator.committed('kcat-group', 'kcat-group-topic', 0)?.offset).toBe(7);
  }, 90_000);
});
