// FileStorage on real files: the RaftStorage conformance suite (restarts recover term, vote,
// entries and the snapshot; conflicting suffixes are truncated; a snapshot from the leader
// replaces a stale log), run once with small log segments too; then what only files have:
// damage is refused, and a whole cluster restarts from its directories.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CorruptRaftStateError, FileStorage, LocalNetwork, RaftNode } from '../src/index.js';
import { storageConformance } from './conformance/storage.js';
import { cmd, KvMachine, until } from './support/kv-machine.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'raft-storage-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

for (const [label, options] of [
  ['FileStorage', {}],
  ['FileStorage (64-byte segments)', { segmentBytesMax: 64 }],
] as const) {
  let conformanceDir = '';
  storageConformance(label, {
    open: async () => {
      conformanceDir = await mkdtemp(join(tmpdir(), 'raft-conformance-'));
      return FileStorage.open({ dir: conformanceDir, fsync: 'always', ...options });
    },
    reopen: () => FileStorage.open({ dir: conformanceDir, ...options }),
    cleanup: () => rm(conformanceDir, { recursive: true, force: true }),
  });
}

const conf = { members: [{ id: 'n1', voter: true }] };

describe('FileStorage', () => {
  it('a damaged snapshot file is refused with a named error', async () => {
    const s = await FileStorage.open({ dir });
    await s.saveSnapshot({ meta: { index: 1, term: 1, conf }, data: new Uint8Array(100) });
    await s.close();
    const path = join(dir, 'snapshot.bin');
    const bytes = await readFile(path);
    bytes[bytes.length - 1] ^= 0xff;
    await writeFile(path, bytes);
    const r = await FileStorage.open({ dir });
    await expect(r.load()).rejects.toBeInstanceOf(CorruptRaftStateError);
    await r.close();
  });

  it('a whole cluster on files restarts with its data intact', async () => {
    const ids = ['n1', 'n2', 'n3'];
    const members = ids.map((id) => ({ id }));
    const boot = async (net: LocalNetwork) =>
      Promise.all(
        ids.map(async (id) => {
          const machine = new KvMachine();
          const node = await RaftNode.start({
            id,
            members,
            storage: await FileStorage.open({ dir: join(dir, id) }),
            transport: net.transport(id),
            stateMachine: machine,
            tickMs: 10,
            snapshotEntries: 8,
            seed: id.charCodeAt(1),
          });
          return { node, machine };
        }),
      );
    let nodes = await boot(new LocalNetwork());
    await until('leader', () => nodes.some((n) => n.node.isLeader));
    const leader = nodes.find((n) => n.node.isLeader) as (typeof nodes)[number];
    for (let i = 0; i < 20; i++) await leader.node.propose(cmd(`k${i}=${i}`));
    const term = leader.node.status().term;
    await Promise.all(nodes.map((n) => n.node.stop()));
    nodes = await boot(new LocalNetwork());
    for (const n of nodes) expect(n.node.status().term).toBeGreaterThanOrEqual(term);
    await until('leader again', () => nodes.some((n) => n.node.isLeader));
    const again = nodes.find((n) => n.node.isLeader) as (typeof nodes)[number];
    await again.node.propose(cmd('after=restart'));
    await until('all apply', () => nodes.every((n) => n.machine.data.get('after') === 'restart'));
    for (const n of nodes) expect(n.machine.data.size).toBe(21);
    expect(nodes.some((n) => n.node.status().snapshotIndex > 0)).toBe(true);
    await Promise.all(nodes.map((n) => n.node.stop()));
  });
});
