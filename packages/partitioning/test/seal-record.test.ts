// The owner's durable seal record: an owner that sealed a partition for the freeze of epoch E
// and then restarted with a controller log that ends before E (its Raft hard state lost a tail
// in a power cut) must not serve the partition - it may already belong to the target. It
// serves it again once it has applied E or later (the flip, or an abort).
import { openStore } from '@ddia/common';
import { describe, expect, it } from 'vitest';
import { ConfigMachine, encodeConfigCommand } from '../src/controller/config-machine.js';
import type { ConfigCommand } from '../src/core/index.js';
import { Layout } from '../src/data/layout.js';
import { PartitionStore } from '../src/data/partition-store.js';
import { PartitionNode } from '../src/partition-node.js';

const apply = (machine: ConfigMachine, command: ConfigCommand) => {
  const result = machine.apply(encodeConfigCommand(command));
  expect(result.ok, JSON.stringify(result)).toBe(true);
};

describe('seal record', () => {
  it('a restarted owner behind its own seal refuses the partition until it catches up', async () => {
    const db = await openStore({ engine: 'memory', keyEncoding: 'utf8', valueEncoding: 'view' });
    const bootstrap: ConfigCommand = {
      op: 'bootstrap',
      scheme: 'hash',
      partitions: 4,
      nodes: [
        { id: 'n1', url: 'http://n1' },
        { id: 'n2', url: 'http://n2' },
      ],
    };
    // Before the crash: n3 joins, a partition p moves from its owner to n3, p is frozen and
    // the owner seals it.
    const before = new ConfigMachine();
    apply(before, bootstrap);
    const first = new PartitionStore(db, new Layout(() => 'hash'));
    await first.init();
    apply(before, { op: 'join', id: 'n3', url: 'http://n3' });
    const moving = before.config?.partitions.find((x) => x.target === 'n3');
    expect(moving).toBeDefined();
    const p = moving?.id as number;
    const owner = moving?.owner as string;
    const node = new PartitionNode(owner, before, first);
    const key = Array.from({ length: 200 }, (_, i) => `k${i}`).find(
      (k) => node.place(k).partition.id === p,
    ) as string;
    apply(before, { op: 'freeze', partition: p, to: 'n3' });
    const freezeEpoch = before.config?.epoch as number;
    await first.seal(p, freezeEpoch);

    // After the restart: the same store, but the controller log ends at the join (epoch 2).
    const reopened = new PartitionStore(db, new Layout(() => 'hash'));
    await reopened.init();
    expect(reopened.sealedEpoch(p)).toBe(freezeEpoch);
    const behind = new ConfigMachine();
    apply(behind, bootstrap);
    apply(behind, { op: 'join', id: 'n3', url: 'http://n3' });
    const restarted = new PartitionNode(owner, behind, reopened);
    expect(restarted.place(key).kind).toBe('local'); // its stale config still says "mine"...
    expect(() => restarted.servable(key)).toThrow(/sealed here at epoch/); // ...but it refuses
    expect(() => restarted.write(key, Buffer.from('x'), { kind: 'none' })).toThrow(/sealed/);
    // Caught up past the freeze (here an abort: the move failed), it serves again.
    apply(behind, { op: 'freeze', partition: p, to: 'n3' });
    apply(behind, { op: 'abort', partition: p });
    expect(restarted.servable(key).id).toBe(p);
  });
});
