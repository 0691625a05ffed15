// The driver (RaftNode) with real timers, in-memory storage and an in-process network: the API
// the kv-store uses, end to end.
import { afterEach, describe, expect, it } from 'vitest';
import {
  LocalNetwork,
  MemoryStorage,
  NotLeaderError,
  ProposalNotCommittedError,
  RaftBadRequestError,
  RaftNode,
  RaftStoppedError,
} from '../src/index.js';
import { cmd, KvMachine, until } from './support/kv-machine.js';

const TICK_MS = 10;
const running: RaftNode[] = [];

interface TestNode {
  node: RaftNode<string | null>;
  machine: KvMachine;
  storage: MemoryStorage;
}

async function startNode(
  net: LocalNetwork,
  id: string,
  members: { id: string }[],
  options: {
    join?: boolean;
    snapshotEntries?: number;
    storage?: MemoryStorage;
    readOnly?: 'safe' | 'lease';
    forwardProposals?: boolean;
    machine?: KvMachine;
  } = {},
): Promise<TestNode> {
  const machine = options.machine ?? new KvMachine();
  const storage = options.storage ?? new MemoryStorage();
  const node = await RaftNode.start({
    id,
    members,
    join: options.join,
    storage,
    transport: net.transport(id),
    stateMachine: machine,
    tickMs: TICK_MS,
    electionTicks: 10,
    snapshotEntries: options.snapshotEntries,
    readOnly: options.readOnly,
    forwardProposals: options.forwardProposals,
    seed: id.charCodeAt(1),
  });
  running.push(node);
  return { node, machine, storage };
}

async function startCluster(
  net: LocalNetwork,
  ids: string[],
  opts: { snapshotEntries?: number; forwardProposals?: boolean } = {},
) {
  const members = ids.map((id) => ({ id }));
  const nodes = await Promise.all(ids.map((id) => startNode(net, id, members, opts)));
  await until('a leader', () => nodes.some((n) => n.node.isLeader));
  return nodes;
}

function leaderOf(nodes: TestNode[]): TestNode {
  const l = nodes.find((n) => n.node.isLeader);
  if (!l) throw new Error('no leader');
  return l;
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((n) => n.stop()));
});

describe('RaftNode driver', () => {
  it('propose returns the state machine result once committed and applied everywhere', async () => {
    const nodes = await startCluster(new LocalNetwork(), ['n1', 'n2', 'n3']);
    const leader = leaderOf(nodes);
    const first = await leader.node.propose(cmd('k=v1'));
    expect(first.result).toBeNull();
    const second = await leader.node.propose(cmd('k=v2'));
    expect(second.result).toBe('v1');
    expect(second.index).toBe(first.index + 1);
    await until('followers apply', () => nodes.every((n) => n.machine.data.get('k') === 'v2'));
    const s = leader.node.status();
    expect(s.role).toBe('leader');
    expect(s.commitIndex).toBeGreaterThanOrEqual(second.index);
    expect(Object.keys(s.progress).sort()).toEqual(
      nodes
        .filter((n) => n !== leader)
        .map((n) => n.node.id)
        .sort(),
    );
    for (const p of Object.values(s.progress)) expect(p.matchIndex).toBeGreaterThan(0);
  });

  it('a follower refuses proposals with NotLeaderError naming the leader', async () => {
    const nodes = await startCluster(new LocalNetwork(), ['n1', 'n2', 'n3']);
    const leader = leaderOf(nodes);
    await until('followers know the leader', () =>
      nodes.every((n) => n.node.status().leaderId === leader.node.id),
    );
    const follower = nodes.find((n) => n !== leader) as TestNode;
    const err = await follower.node.propose(cmd('a=b')).catch((e) => e);
    expect(err).toBeInstanceOf(NotLeaderError);
    expect(err.leaderId).toBe(leader.node.id);
    expect(err.retriable).toBe(true);
  });

  it('with forwardProposals, followers propose too: the leader gets the command in a message, each proposer gets its own result', async () => {
    const nodes = await startCluster(new LocalNetwork(), ['n1', 'n2', 'n3'], { forwardProposals: true });
    const leader = leaderOf(nodes);
    await until('followers know the leader', () =>
      nodes.every((n) => n.node.status().leaderId === leader.node.id),
    );
    const [a, b] = nodes.filter((n) => n !== leader) as [TestNode, TestNode];
    // Interleaved writes to one key from all three nodes: each result is the value it replaced,
    // so the results chain through the log order whatever node proposed them.
    const outcomes = await Promise.all(
      Array.from({ length: 30 }, (_, i) => [a, b, leader][i % 3]!.node.propose(cmd(`k=${i}`))),
    );
    const byIndex = outcomes
      .map((o, i) => ({ index: o.index, value: String(i), previous: o.result }))
      .sort((x, y) => x.index - y.index);
    for (let k = 1; k < byIndex.length; k++) expect(byIndex[k]!.previous).toBe(byIndex[k - 1]!.value);
    expect(new Set(outcomes.map((o) => o.index)).size).toBe(30);
    const last = byIndex.at(-1)!.value;
    await until('all apply', () => nodes.every((n) => n.machine.data.get('k') === last));
  });

  it('a forwarded proposal the leader never got is refused as not committed once a later term applies', async () => {
    const net = new LocalNetwork();
    const ids = ['n1', 'n2', 'n3'];
    const nodes = await startCluster(net, ids, { forwardProposals: true });
    const leader = leaderOf(nodes);
    await until('followers know the leader', () =>
      nodes.every((n) => n.node.status().leaderId === leader.node.id),
    );
    const follower = nodes.find((n) => n !== leader) as TestNode;
    net.isolate(leader.node.id, ids); // the proposal below is lost on the way
    const started = performance.now();
    const lost = await follower.node.propose(cmd('x=lost'), { timeoutMs: 20_000 }).catch((e) => e);
    expect(lost).toBeInstanceOf(ProposalNotCommittedError);
    expect(lost.retriable).toBe(true);
    // Refused when the next term's entries applied (an election, ~100-200 ms here), not at the timeout.
    expect(performance.now() - started).toBeLessThan(10_000);
    const retried = await follower.node.propose(cmd('x=kept'), { timeoutMs: 5_000 });
    expect(retried.result).toBeNull();
    expect(follower.machine.data.get('x')).toBe('kept');
    net.heal();
    await until('the old leader catches up', () => leader.machine.data.get('x') === 'kept');
  });

  it('readIndex on a follower waits until the write is applied there (linearizable read)', async () => {
    const nodes = await startCluster(new LocalNetwork(), ['n1', 'n2', 'n3']);
    const leader = leaderOf(nodes);
    const follower = nodes.find((n) => n !== leader) as TestNode;
    await until('follower knows the leader', () => follower.node.status().leaderId === leader.node.id);
    const { index } = await leader.node.propose(cmd('x=1'));
    const readAt = await follower.node.readIndex();
    expect(readAt).toBeGreaterThanOrEqual(index);
    expect(follower.machine.data.get('x')).toBe('1');
  });

  it('concurrent reads share ReadIndex rounds, and each still sees every write completed before it began', async () => {
    const nodes = await startCluster(new LocalNetwork(), ['n1', 'n2', 'n3']);
    const leader = leaderOf(nodes);
    await until('followers know the leader', () =>
      nodes.every((n) => n.node.status().leaderId === leader.node.id),
    );
    const follower = nodes.find((n) => n !== leader) as TestNode;
    const written = await leader.node.propose(cmd('r=1'));
    const roundsBefore = follower.node.stats.readRounds;
    const indexes = await Promise.all(Array.from({ length: 200 }, () => follower.node.readIndex()));
    for (const index of indexes) expect(index).toBeGreaterThanOrEqual(written.index);
    expect(follower.machine.data.get('r')).toBe('1');
    const rounds = follower.node.stats.readRounds - roundsBefore;
    expect(rounds).toBeGreaterThan(0);
    expect(rounds).toBeLessThan(20);
  });

  it('lease reads answer on the leader without waiting for a heartbeat round', async () => {
    const net = new LocalNetwork();
    const members = ['n1', 'n2', 'n3'].map((id) => ({ id }));
    const nodes = await Promise.all(members.map((m) => startNode(net, m.id, members, { readOnly: 'lease' })));
    await until('a leader', () => nodes.some((n) => n.node.isLeader));
    const leader = leaderOf(nodes);
    const { index } = await leader.node.propose(cmd('y=2'));
    expect(await leader.node.readIndex()).toBeGreaterThanOrEqual(index);
  });

  it('failover: after the leader stops, another is elected and takes writes', async () => {
    const net = new LocalNetwork();
    const nodes = await startCluster(net, ['n1', 'n2', 'n3']);
    const old = leaderOf(nodes);
    await old.node.propose(cmd('before=1'));
    await old.node.stop();
    const rest = nodes.filter((n) => n !== old);
    await until('a new leader', () => rest.some((n) => n.node.isLeader));
    const leader = leaderOf(rest);
    await leader.node.propose(cmd('after=1'));
    for (const n of rest) await n.node.waitApplied(leader.node.status().commitIndex);
    for (const n of rest) expect([...n.machine.data.keys()].sort()).toEqual(['after', 'before']);
    await expect(old.node.propose(cmd('z=1'))).rejects.toBeInstanceOf(RaftStoppedError);
  });

  it('snapshots compact the log; a new member joins as a learner, catches up by snapshot, and is promoted', async () => {
    const net = new LocalNetwork();
    const nodes = await startCluster(net, ['n1', 'n2', 'n3'], { snapshotEntries: 20 });
    const leader = leaderOf(nodes);
    for (let i = 0; i < 50; i++) await leader.node.propose(cmd(`k${i}=${i}`));
    const snap = await leader.node.snapshotNow();
    expect(snap.index).toBeGreaterThan(40);
    expect(leader.node.status().snapshotIndex).toBe(snap.index);
    const joiner = await startNode(net, 'n4', [], { join: true });
    await leader.node.addMember({ id: 'n4' }, { timeoutMs: 10_000 });
    const voters = leader.node
      .status()
      .members.filter((m) => m.voter)
      .map((m) => m.id);
    expect(voters.sort()).toEqual(['n1', 'n2', 'n3', 'n4']);
    await until('joiner applies everything', () => joiner.machine.data.size === 50);
    expect(joiner.machine.restores).toBe(1);
    expect(joiner.node.status().snapshotIndex).toBeGreaterThan(0);
    await leader.node.removeMember('n4');
    expect(leader.node.status().members.map((m) => m.id)).not.toContain('n4');
  });

  it('a snapshot being built holds nothing up: proposals commit meanwhile, and the log is compacted at the index it was taken at', async () => {
    /** Captures its state when asked, and hands the image over only when released. */
    class GatedSnapshotMachine extends KvMachine {
      release: (() => void) | null = null;
      override snapshot(): Promise<Uint8Array> {
        const image = super.snapshot();
        return new Promise((resolve) => {
          this.release = () => resolve(image);
        });
      }
    }
    const machine = new GatedSnapshotMachine();
    const { node, storage } = await startNode(new LocalNetwork(), 'n1', [{ id: 'n1' }], { machine });
    await until('leader', () => node.isLeader);
    for (let i = 0; i < 10; i++) await node.propose(cmd(`k${i}=${i}`));
    const takenAt = machine.applied;
    const snapshot = node.snapshotNow();
    await until('the snapshot is being built', () => machine.release !== null);
    // The Ready loop goes on: these commit and apply while the image is not ready.
    for (let i = 10; i < 15; i++) await node.propose(cmd(`k${i}=${i}`));
    expect(machine.data.size).toBe(15);
    expect(node.status().snapshotIndex).toBe(0);
    machine.release?.();
    expect(await snapshot).toMatchObject({ index: takenAt });
    expect(node.status().snapshotIndex).toBe(takenAt);
    // What was saved is the state at takenAt: ten keys, not fifteen.
    const saved = await storage.load();
    expect(saved?.snapshot?.meta.index).toBe(takenAt);
    const restored = new KvMachine();
    restored.restore(saved?.snapshot?.data as Uint8Array, { index: takenAt });
    expect(restored.data.size).toBe(10);
  });

  it('a snapshot that cannot be saved stops the node and fails its request, not hangs it', async () => {
    class FailingSnapshotStorage extends MemoryStorage {
      override async saveSnapshot(): Promise<void> {
        throw new Error('disk full');
      }
    }
    const storage = new FailingSnapshotStorage();
    const { node } = await startNode(new LocalNetwork(), 'n1', [{ id: 'n1' }], { storage });
    await until('leader', () => node.isLeader);
    await node.propose(cmd('a=1'));
    const fatal = new Promise((resolve) => node.once('fatal', resolve));
    await expect(node.snapshotNow()).rejects.toThrow(/disk full/);
    expect(String(await fatal)).toMatch(/disk full/);
  });

  it('leadership transfer moves the leader to the chosen node', async () => {
    const nodes = await startCluster(new LocalNetwork(), ['n1', 'n2', 'n3']);
    const leader = leaderOf(nodes);
    const target = nodes.find((n) => n !== leader) as TestNode;
    await leader.node.propose(cmd('t=1'));
    const term = leader.node.status().term;
    await leader.node.transferLeadership(target.node.id, { timeoutMs: 5000 });
    await until('target leads', () => target.node.isLeader);
    expect(target.node.status().term).toBeGreaterThan(term);
    await target.node.propose(cmd('t=2'));
  });

  it('a restarted node recovers from its storage and catches up', async () => {
    const net = new LocalNetwork();
    const nodes = await startCluster(net, ['n1', 'n2', 'n3']);
    const leader = leaderOf(nodes);
    const follower = nodes.find((n) => n !== leader) as TestNode;
    await leader.node.propose(cmd('a=1'));
    await follower.node.waitApplied(leader.node.status().commitIndex);
    await follower.node.stop();
    await leader.node.propose(cmd('b=2'));
    const reborn = await startNode(net, follower.node.id, [], { storage: follower.storage });
    await until('restarted node applies both', () => reborn.machine.data.get('b') === '2');
    expect(reborn.machine.data.get('a')).toBe('1');
  });

  it('bad input gets a named error, not a crash', async () => {
    await expect(
      RaftNode.start({
        id: 'n9',
        members: [{ id: 'n1' }],
        storage: new MemoryStorage(),
        transport: new LocalNetwork().transport('n9'),
        stateMachine: new KvMachine(),
      }),
    ).rejects.toBeInstanceOf(RaftBadRequestError);
    const nodes = await startCluster(new LocalNetwork(), ['n1']);
    await expect(nodes[0].node.transferLeadership('nobody')).rejects.toBeInstanceOf(RaftBadRequestError);
    await expect(nodes[0].node.addMember({ id: 'n5', url: 'ftp://x' })).rejects.toBeInstanceOf(
      RaftBadRequestError,
    );
  });
});
