// The driver's batched apply path (StateMachine.applyBatch, API.md §2): runs of consecutive
// committed normal entries reach the state machine in one call, in log order, split by
// membership entries, and each result goes back to the proposer of its index.
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CommittedCommand,
  LocalNetwork,
  MemoryStorage,
  RaftNode,
  RaftTimeoutError,
} from '../src/index.js';
import { cmd, KvMachine, until } from './support/kv-machine.js';

const TICK_MS = 10;
const dec = new TextDecoder();
const running: RaftNode<string | null>[] = [];

/** KvMachine whose applyBatch applies in order and records every call; `apply` must not be used. */
class BatchingMachine extends KvMachine {
  readonly calls: { index: number; term: number; text: string }[][] = [];
  singleApplies = 0;
  /** When set, applyBatch returns this many results instead of one per command (a broken machine). */
  resultCountOverride: number | null = null;

  override apply(command: Uint8Array, meta: { index: number }): string | null {
    this.singleApplies++;
    return super.apply(command, meta);
  }

  async applyBatch(commands: CommittedCommand[]): Promise<(string | null)[]> {
    this.calls.push(commands.map((c) => ({ index: c.index, term: c.term, text: dec.decode(c.command) })));
    // An await in the middle, as a real store has: the node must not start another call meanwhile.
    await new Promise((resolve) => setImmediate(resolve));
    const results = commands.map((c) => super.apply(c.command, { index: c.index }));
    return this.resultCountOverride === null ? results : results.slice(0, this.resultCountOverride);
  }
}

async function startNode(net: LocalNetwork, id: string, members: { id: string }[]) {
  const machine = new BatchingMachine();
  const node = await RaftNode.start<string | null>({
    id,
    members,
    storage: new MemoryStorage(),
    transport: net.transport(id),
    stateMachine: machine,
    tickMs: TICK_MS,
    electionTicks: 10,
    seed: id.charCodeAt(1),
  });
  running.push(node);
  return { node, machine };
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((n) => n.stop()));
});

describe('RaftNode with applyBatch', () => {
  it('hands a Ready’s committed run to applyBatch in one call, in order, split by a membership entry', async () => {
    const { node, machine } = await startNode(new LocalNetwork(), 'n1', [{ id: 'n1' }]);
    await until('leader', () => node.isLeader);
    // Up to the new leader's no-op, not just what is committed now: until the leader applies
    // it, a membership change is refused as another one still pending (Raft's pendingConfIndex).
    await node.waitApplied(node.status().lastIndex);
    const callsBefore = machine.calls.length;
    const applied: number[] = [];
    node.on('applied', (index: number) => applied.push(index));

    // All proposed in one turn of the event loop: they share one Ready, so they commit together.
    const first = [node.propose(cmd('k=1')), node.propose(cmd('k=2')), node.propose(cmd('j=1'))];
    const conf = node.addLearner({ id: 'n9' });
    const second = [node.propose(cmd('k=3')), node.propose(cmd('j=2'))];
    const firstOut = await Promise.all(first);
    await conf;
    const secondOut = await Promise.all(second);

    // Results map back to their own proposals: each write returns the value it replaced.
    expect(firstOut.map((o) => o.result)).toEqual([null, '1', null]);
    expect(secondOut.map((o) => o.result)).toEqual(['2', '1']);
    const indexes = [...firstOut, ...secondOut].map((o) => o.index);
    const confIndex = (firstOut[2]?.index as number) + 1;
    expect(indexes).toEqual([1, 2, 3, 5, 6].map((d) => (firstOut[0]?.index as number) + d - 1));

    const calls = machine.calls.slice(callsBefore);
    expect(calls.map((c) => c.map((e) => e.text))).toEqual([
      ['k=1', 'k=2', 'j=1'],
      ['k=3', 'j=2'],
    ]);
    expect(calls.map((c) => c.map((e) => e.index))).toEqual([indexes.slice(0, 3), indexes.slice(3)]);
    for (const c of calls) for (const e of c) expect(e.term).toBe(node.status().term);
    // The membership entry sits between the two runs, and every index was announced in order.
    expect(node.status().members.map((m) => m.id)).toContain('n9');
    expect(applied).toEqual([...indexes.slice(0, 3), confIndex, ...indexes.slice(3)]);
    expect(node.applied).toBe(indexes[4]);
    expect(machine.singleApplies).toBe(0);
  });

  it('followers apply the same runs and reach the same state', async () => {
    const net = new LocalNetwork();
    const members = ['n1', 'n2', 'n3'].map((id) => ({ id }));
    const nodes = await Promise.all(members.map((m) => startNode(net, m.id, members)));
    await until('a leader', () => nodes.some((n) => n.node.isLeader));
    const leader = nodes.find((n) => n.node.isLeader) as (typeof nodes)[number];
    const outcomes = await Promise.all(
      Array.from({ length: 40 }, (_, i) => leader.node.propose(cmd(`k${i % 7}=${i}`))),
    );
    // Each key's writes are answered with the previous write to that key, in proposal order.
    for (let i = 0; i < 40; i++) expect(outcomes[i]?.result).toBe(i < 7 ? null : String(i - 7));
    const last = Math.max(...outcomes.map((o) => o.index));
    await Promise.all(nodes.map((n) => n.node.waitApplied(last)));
    for (const n of nodes) {
      expect([...n.machine.data]).toEqual([...leader.machine.data]);
      const seen = n.machine.calls.flat().map((e) => e.index);
      expect(seen).toEqual([...seen].sort((a, b) => a - b));
      expect(new Set(seen).size).toBe(seen.length);
      expect(n.machine.singleApplies).toBe(0);
    }
    expect(leader.machine.calls.some((c) => c.length > 1)).toBe(true);
  });

  it('an applyBatch that returns the wrong number of results stops the node', async () => {
    const { node, machine } = await startNode(new LocalNetwork(), 'n1', [{ id: 'n1' }]);
    await until('leader', () => node.isLeader);
    await node.waitApplied(node.status().commitIndex);
    const fatal = new Promise<unknown>((resolve) => node.once('fatal', resolve));
    machine.resultCountOverride = 0;
    const proposal = node.propose(cmd('x=1'), { timeoutMs: 500 });
    expect(String(await fatal)).toMatch(/applyBatch returned 0 results for 1 commands/);
    // The proposal is never answered with a made-up result.
    await expect(proposal).rejects.toBeInstanceOf(RaftTimeoutError);
  });
});
