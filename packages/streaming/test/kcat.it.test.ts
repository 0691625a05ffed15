// librdkafka through Debian's kcat (or its old name kafkacat), when installed: produce lines,
// consume them back. Skipped with a reason where the tool is absent (CI: apt-get install kcat).
import { execFileSync, spawnSync } from 'node:child_process';
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

  it('produces lines and consumes them back in order', () => {
    const lines = Array.from({ length: 20 }, (_, i) => `line-${i}`);
    execFileSync(kcat!, ['-b', node.bootstrap, '-t', 'kcat-topic', '-P'], {
      input: `${lines.join('\n')}\n`,
      timeout: 30_000,
    });
    const out = execFileSync(
      kcat!,
      ['-b', node.bootstrap, '-t', 'kcat-topic', '-C', '-o', 'beginning', '-e', '-q'],
      {
        timeout: 30_000,
      },
    ).toString();
    expect(out.trim().split('\n')).toEqual(lines);
  });
});
