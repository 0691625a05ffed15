// FileStorage on real files: a restart recovers term, vote, entries and the snapshot; conflicting
// suffixes are truncated; a snapshot from the leader replaces a stale log; damage is refused.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CorruptRaftStateError, type Entry, FileStorage, LocalNetwork, RaftNode } from '../src/index.js';
import { cmd, KvMachine, until } from './support/kv-machine.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'raft-storage-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const e = (index: number, term: number, text = `e${index}`): Entry => ({
  index,
  term,
  type: 'normal',
  data: new TextEncoder().encode(text),
});
const conf = { members: [{ id: 'n1', voter: true }] };

describe('FileStorage', () => {
  it('a fresh directory loads as empty (null)', async () => {
    const s = await FileStorage.open({ dir });
    expect(await s.load()).toBeNull();
    await s.close();
  });

  it('restart recovers term, vote, commit and entries', async () => {
    const s = await FileStorage.open({ dir, fsync: 'always' });
    await s.save({
      snapshot: null,
      entries: [e(1, 1), e(2, 1), e(3, 2)],
      hardState: { term: 2, vote: 'n2', commit: 2 },
    });
    await s.close();
    const r = await FileStorage.open({ dir });
    const state = await r.load();
    expect(state?.hardState).toEqual({ term: 2, vote: 'n2', commit: 2 });
    expect(state?.entries.map((x) => [x.index, x.term, new TextDecoder().decode(x.data)])).toEqual([
      [1, 1, 'e1'],
      [2, 1, 'e2'],
      [3, 2, 'e3'],
    ]);
    await r.close();
  });

  it('a conflicting suffix from a new leader replaces the old one', async () => {
    const s = await FileStorage.open({ dir });
    await s.save({
      snapshot: null,
      entries: [e(1, 1), e(2, 1), e(3, 1), e(4, 1)],
      hardState: { term: 1, vote: null, commit: 1 },
    });
    await s.save({
      snapshot: null,
      entries: [e(3, 3, 'new3')],
      hardState: { term: 3, vote: null, commit: 1 },
    });
    await s.close();
    const r = await FileStorage.open({ dir });
    const state = await r.load();
    expect(state?.entries.map((x) => `${x.index}/${x.term}`)).toEqual(['1/1', '2/1', '3/3']);
    await r.close();
  });

  it('an application snapshot compacts; restart returns the snapshot and only later entries', async () => {
    const s = await FileStorage.open({ dir, segmentBytesMax: 64 });
    const entries = Array.from({ length: 20 }, (_, i) => e(i + 1, 1));
    await s.save({ snapshot: null, entries, hardState: { term: 1, vote: 'n1', commit: 20 } });
    await s.saveSnapshot({ meta: { index: 15, term: 1, conf }, data: new TextEncoder().encode('state@15') });
    await s.close();
    const r = await FileStorage.open({ dir });
    const state = await r.load();
    expect(state?.snapshot?.meta).toEqual({ index: 15, term: 1, conf });
    expect(new TextDecoder().decode(state?.snapshot?.data)).toBe('state@15');
    expect(state?.entries.map((x) => x.index)).toEqual([16, 17, 18, 19, 20]);
    await r.close();
  });

  it('a snapshot from the leader replaces a log that does not contain its last entry', async () => {
    const s = await FileStorage.open({ dir });
    await s.save({
      snapshot: null,
      entries: [e(1, 1), e(2, 1), e(3, 1)],
      hardState: { term: 1, vote: null, commit: 1 },
    });
    await s.save({
      snapshot: { meta: { index: 10, term: 4, conf }, data: new Uint8Array([1, 2, 3]) },
      entries: [e(11, 4)],
      hardState: { term: 4, vote: null, commit: 10 },
    });
    await s.close();
    const r = await FileStorage.open({ dir });
    const state = await r.load();
    expect(state?.snapshot?.meta.index).toBe(10);
    expect(state?.entries.map((x) => `${x.index}/${x.term}`)).toEqual(['11/4']);
    expect(state?.hardState.term).toBe(4);
    await r.close();
  });

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
