// Scenario tests named after the Raft paper (Ongaro & Ousterhout 2014; "diss." = Ongaro's
// dissertation). Each drives a hand-stepped Cluster; the safety checker runs after every step.
import { describe, expect, it } from 'vitest';
import { Cluster, InvariantViolation, type Message } from '../src/index.js';

const ids3 = ['n1', 'n2', 'n3'];
const ids5 = ['n1', 'n2', 'n3', 'n4', 'n5'];

function elect(c: Cluster, id: string): void {
  c.campaign(id);
  c.deliver();
  expect(c.raft(id).role).toBe('leader');
}

/** Ticks `group` (cut off from the old leader) until one of them leads a newer term. */
function leaderAmong(c: Cluster, group: string[]): string {
  for (let i = 0; i < 200; i++) {
    const leader = group.find((id) => c.raft(id).role === 'leader');
    if (leader) return leader;
    c.tick(group);
    c.deliver();
  }
  throw new Error(`no leader among ${group.join(',')}`);
}

function commands(c: Cluster, id: string): string[] {
  return c.node(id).appliedCommands;
}

const between =
  (...group: string[]) =>
  (m: Message) =>
    group.includes(m.from) && group.includes(m.to);

describe('§5.2 leader election', () => {
  it('initial election: one leader, everyone agrees, term advances once', () => {
    const c = new Cluster({ ids: ids3, seed: 7 });
    const leader = c.stabilize();
    expect(leader).not.toBeNull();
    const term = c.raft(leader as string).term;
    for (const id of ids3) {
      expect(c.raft(id).leaderId).toBe(leader);
      expect(c.raft(id).term).toBe(term);
    }
    expect(ids3.filter((id) => c.raft(id).role === 'leader')).toHaveLength(1);
  });

  it('re-election after the leader fails: a new leader in a higher term keeps committed entries', () => {
    const c = new Cluster({ ids: ids5, seed: 3 });
    elect(c, 'n1');
    c.propose('n1', 'x');
    c.deliver();
    c.tick(); // a heartbeat carries the commit index to followers
    c.deliver();
    const oldTerm = c.raft('n1').term;
    c.crash('n1');
    const leader = c.stabilize() as string;
    expect(leader).not.toBe('n1');
    expect(c.raft(leader).term).toBeGreaterThan(oldTerm);
    c.propose(leader, 'y');
    c.deliver();
    c.tick();
    c.deliver();
    for (const id of ids5.filter((i) => i !== 'n1')) expect(commands(c, id)).toEqual(['x', 'y']);
  });

  it('PreVote prevents disruption: a node rejoining from a partition does not depose the leader (diss. §9.6)', () => {
    const c = new Cluster({ ids: ids3, seed: 5, raft: { preVote: true, checkQuorum: true } });
    elect(c, 'n1');
    const term = c.raft('n1').term;
    c.isolate('n3');
    for (let i = 0; i < 60; i++) {
      c.tick();
      c.deliver();
    }
    expect(c.raft('n3').term).toBe(term); // pre-votes never bump the term
    c.heal();
    for (let i = 0; i < 5; i++) {
      c.tick();
      c.deliver();
    }
    expect(c.raft('n1').role).toBe('leader');
    expect(c.raft('n1').term).toBe(term);
    expect(c.raft('n3').leaderId).toBe('n1');
  });

  it('without PreVote the same rejoin forces a new election (the problem PreVote solves)', () => {
    const c = new Cluster({ ids: ids3, seed: 5, raft: { preVote: false, checkQuorum: false } });
    elect(c, 'n1');
    const term = c.raft('n1').term;
    c.isolate('n3');
    for (let i = 0; i < 60; i++) {
      c.tick();
      c.deliver();
    }
    expect(c.raft('n3').term).toBeGreaterThan(term + 1);
    c.heal();
    for (let i = 0; i < 3; i++) {
      c.tick();
      c.deliver();
    }
    expect(c.raft('n1').term).toBeGreaterThan(term);
  });

  it('CheckQuorum: a leader that cannot reach a majority steps down within an election timeout (diss. §6.2)', () => {
    const c = new Cluster({ ids: ids3, seed: 9, raft: { checkQuorum: true, electionTicks: 10 } });
    elect(c, 'n1');
    c.isolate('n1');
    let ticks = 0;
    while (c.raft('n1').role === 'leader' && ticks < 100) {
      c.tick(['n1']);
      c.deliver();
      ticks++;
    }
    expect(c.raft('n1').role).toBe('follower');
    expect(ticks).toBeLessThanOrEqual(2 * 10);
  });
});

describe('§5.3 log replication', () => {
  it('no commit without a majority: a leader with a minority cannot commit', () => {
    const c = new Cluster({ ids: ids5, seed: 11, raft: { checkQuorum: false } });
    elect(c, 'n1');
    const before = c.raft('n1').log.committed;
    c.partition([
      ['n1', 'n2'],
      ['n3', 'n4', 'n5'],
    ]);
    c.propose('n1', 'lost');
    for (let i = 0; i < 5; i++) {
      c.tick(['n1', 'n2']);
      c.deliver();
    }
    expect(c.raft('n1').log.committed).toBe(before);
    expect(c.raft('n2').log.lastIndex()).toBe(c.raft('n1').log.lastIndex()); // replicated, yet not committed
    expect(commands(c, 'n1')).toEqual([]);
  });

  it('a partitioned old leader rejoins: it steps down and its uncommitted entries are replaced', () => {
    const c = new Cluster({ ids: ids5, seed: 13, raft: { checkQuorum: false } });
    elect(c, 'n1');
    c.partition([
      ['n1', 'n2'],
      ['n3', 'n4', 'n5'],
    ]);
    c.propose('n1', 'stale');
    c.deliver();
    const leader = leaderAmong(c, ['n3', 'n4', 'n5']);
    c.propose(leader, 'fresh');
    c.deliver();
    c.heal();
    for (let i = 0; i < 5; i++) {
      c.tick([leader]);
      c.deliver();
    }
    expect(c.raft('n1').role).toBe('follower');
    expect(c.raft('n1').leaderId).toBe(leader);
    for (const id of ids5) expect(commands(c, id)).toEqual(['fresh']);
  });

  it('fast back-up over long divergent logs: the leader skips whole terms, not one index per round trip', () => {
    const c = new Cluster({ ids: ids3, seed: 17, raft: { checkQuorum: false, appendEntriesMax: 1000 } });
    elect(c, 'n1');
    // n1, isolated, piles up 100 uncommitted entries in its term.
    c.isolate('n1');
    for (let i = 0; i < 100; i++) c.propose('n1', `old${i}`);
    c.drop();
    // The majority moves on for two more terms with 100 entries of its own.
    const first = leaderAmong(c, ['n2', 'n3']);
    const second = first === 'n2' ? 'n3' : 'n2';
    for (let i = 0; i < 50; i++) c.propose(first, `a${i}`);
    c.deliver();
    c.transferLeadership(first, second);
    c.deliver();
    expect(c.raft(second).role).toBe('leader');
    for (let i = 0; i < 50; i++) c.propose(second, `b${i}`);
    c.deliver();
    c.heal();
    let rejections = 0;
    for (let i = 0; i < 10; i++) {
      c.tick([second]);
      const delivered = c.deliver();
      rejections += delivered.filter((m) => m.type === 'appResp' && m.reject && m.from === 'n1').length;
    }
    expect(c.raft('n1').log.lastIndex()).toBe(c.raft(second).log.lastIndex());
    expect(commands(c, 'n1')).toEqual(commands(c, second));
    expect(commands(c, 'n1')).toHaveLength(100);
    // One index per round trip would take ~100 rejections; one term per round trip takes a few.
    expect(rejections).toBeLessThanOrEqual(3);
  });

  it('pipelined appends: a follower in replicate state gets several appends in flight, bounded by inflightMax', () => {
    const c = new Cluster({ ids: ids3, seed: 19, raft: { appendEntriesMax: 1, inflightMax: 4 } });
    elect(c, 'n1');
    for (let i = 0; i < 10; i++) c.propose('n1', `p${i}`);
    const toN2 = c.queue.filter((m) => m.to === 'n2' && m.type === 'app');
    expect(toN2).toHaveLength(4);
    c.deliver();
    expect(commands(c, 'n1')).toHaveLength(10);
  });
});

describe('§5.4 safety', () => {
  // The paper's Figure 8 on five servers s1..s5, step by step.
  function figure8(unsafe: boolean): Cluster {
    const ids = ['s1', 's2', 's3', 's4', 's5'];
    const c = new Cluster({
      ids,
      seed: 8,
      raft: { preVote: false, checkQuorum: false, appendEntriesMax: 1, unsafeCommitOldTerms: unsafe },
    });
    const votesOnly =
      (...to: string[]) =>
      (m: Message) =>
        (m.type === 'vote' || m.type === 'voteResp') && to.includes(m.to);
    elect(c, 's1');
    c.tick(['s1']);
    c.deliver();
    // (a) s1 leads term 2 and replicates index 7 to s2 only.
    c.propose('s1', 'from-term-2');
    c.deliver(between('s1', 's2'));
    c.drop();
    c.crash('s1');
    // (b) s5 wins term 3 with votes from s3, s4; its entry at index 7 goes nowhere.
    c.campaign('s5');
    c.deliver(votesOnly('s3', 's4', 's5'));
    c.drop();
    expect(c.raft('s5').role).toBe('leader');
    c.crash('s5');
    // (c) s1 restarts, wins term 4, and replicates index 7 (term 2) to s3: now on a majority.
    c.restart('s1');
    c.campaign('s1');
    c.deliver(votesOnly('s1', 's2', 's3', 's4'));
    c.campaign('s1');
    c.deliver(votesOnly('s1', 's2', 's3', 's4'));
    expect(c.raft('s1').role).toBe('leader');
    c.deliver(between('s1', 's2'), 2);
    // s3 receives entries one at a time; stop before its no-op of term 4 arrives.
    for (let i = 0; i < 4 && c.raft('s3').log.lastIndex() < 7; i++) c.deliver(between('s1', 's3'), 1);
    expect(c.raft('s3').log.term(7)).toBe(2);
    c.deliver((m) => m.to === 's1' && m.type === 'appResp');
    return c;
  }

  it('Figure 8: the leader does not commit an entry from an older term by counting replicas', () => {
    const c = figure8(false);
    expect(c.raft('s1').log.committed).toBeLessThan(7);
    // (d) s1 crashes; s5 can legally win and overwrite index 7: it was never committed.
    c.crash('s1');
    c.drop();
    c.restart('s5');
    c.campaign('s5'); // term 4: everyone already voted in term 4
    c.deliver();
    c.campaign('s5'); // term 5: s3 and s4 vote for it (§5.4.1 allows it)
    c.deliver();
    expect(c.raft('s5').role).toBe('leader');
    c.tick(['s5']);
    c.deliver();
    expect(c.raft('s3').log.term(7)).toBe(3);
  });

  it('Figure 8 canary: counting replicas of an older-term entry is caught by the checker', () => {
    expect(() => {
      const c = figure8(true);
      c.crash('s1');
      c.restart('s5');
      c.campaign('s5');
      c.deliver();
      c.campaign('s5');
      c.deliver();
    }).toThrow(InvariantViolation);
  });
});

describe('§5.1 / Figure 2 persistence', () => {
  it('persistence when all nodes crash: committed entries, terms and votes survive', () => {
    const c = new Cluster({ ids: ids3, seed: 23 });
    elect(c, 'n1');
    for (const cmd of ['a', 'b', 'c']) c.propose('n1', cmd);
    c.deliver();
    c.tick();
    c.deliver();
    const terms = ids3.map((id) => c.raft(id).term);
    for (const id of ids3) c.crash(id);
    for (const id of ids3) c.restart(id);
    expect(ids3.map((id) => c.raft(id).term)).toEqual(terms);
    const leader = c.stabilize() as string;
    c.propose(leader, 'd');
    c.deliver();
    c.tick();
    c.deliver();
    // Each restarted state machine replays its log from the start: same commands, same order.
    for (const id of ids3) expect(commands(c, id).slice(-4)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('a vote survives a crash: no second vote in the same term', () => {
    const c = new Cluster({ ids: ids3, seed: 29, raft: { preVote: false, checkQuorum: false } });
    c.campaign('n2');
    c.deliver((m) => m.type === 'vote' && m.to === 'n1');
    const votedTerm = c.raft('n1').term;
    expect(c.raft('n1').vote).toBe('n2');
    c.drop();
    c.crash('n1');
    c.restart('n1');
    expect(c.raft('n1').vote).toBe('n2');
    // n3 asks for n1's vote in the same term: refused.
    c.raft('n3').becomeFollower(votedTerm - 1, null);
    c.campaign('n3');
    expect(c.raft('n3').term).toBe(votedTerm);
    const answers = c.deliver(
      (m) => (m.type === 'vote' && m.to === 'n1') || (m.type === 'voteResp' && m.from === 'n1'),
    );
    expect(answers.find((m) => m.type === 'voteResp')?.reject).toBe(true);
  });
});

describe('§7 log compaction', () => {
  it('snapshot install to a lagging follower: compacted log, chunk-free core message, same state', () => {
    const c = new Cluster({ ids: ids3, seed: 31 });
    for (const id of ids3) c.node(id).snapshotEvery = 10;
    elect(c, 'n1');
    c.crash('n3');
    for (let i = 0; i < 40; i++) c.propose('n1', `v${i}`);
    c.deliver();
    c.tick(['n1', 'n2']);
    c.deliver();
    expect(c.raft('n1').log.snapshotMeta.index).toBeGreaterThan(30);
    c.restart('n3');
    for (let i = 0; i < 5; i++) {
      c.tick(['n1']);
      c.deliver();
    }
    expect(c.node('n3').storage.snapshot?.meta.index).toBeGreaterThan(30);
    expect(c.raft('n3').log.lastIndex()).toBe(c.raft('n1').log.lastIndex());
    expect(c.node('n3').stateHash).toBe(c.node('n1').stateHash);
    c.propose('n1', 'after');
    c.deliver();
    c.tick(['n1']);
    c.deliver();
    expect(c.node('n3').appliedCommands.at(-1)).toBe('after');
  });
});

describe('diss. §4 membership changes', () => {
  it('membership change while a node is down: add a learner, promote it, remove the dead node', () => {
    const c = new Cluster({ ids: ['n1', 'n2', 'n3', 'n4'], joiners: ['n4'], seed: 37 });
    elect(c, 'n1');
    c.crash('n3');
    expect(c.proposeConfChange('n1', { kind: 'addLearner', id: 'n4' })).toBe(true);
    c.deliver();
    c.tick(['n1', 'n2', 'n4']);
    c.deliver();
    expect(c.raft('n4').membership.has('n4')).toBe(true);
    expect(c.raft('n4').membership.isVoter('n4')).toBe(false);
    // A learner catches up but does not count: a proposal still needs n1 + n2.
    c.propose('n1', 'while-learning');
    c.deliver();
    c.tick(['n1', 'n2', 'n4']);
    c.deliver();
    expect(commands(c, 'n4')).toEqual(['while-learning']);
    expect(c.proposeConfChange('n1', { kind: 'addVoter', id: 'n4' })).toBe(true);
    c.deliver();
    c.tick(['n1', 'n2', 'n4']);
    c.deliver();
    expect(c.raft('n1').membership.voters().toSorted()).toEqual(['n1', 'n2', 'n3', 'n4']);
    expect(c.proposeConfChange('n1', { kind: 'remove', id: 'n3' })).toBe(true);
    c.deliver();
    c.tick(['n1', 'n2', 'n4']);
    c.deliver();
    expect(c.raft('n1').membership.voters().toSorted()).toEqual(['n1', 'n2', 'n4']);
    // Now n2 alone is a majority partner for n1 even with n4 cut off.
    c.isolate('n4');
    c.propose('n1', 'after-remove');
    c.deliver();
    expect(c.node('n1').appliedCommands.at(-1)).toBe('after-remove');
  });

  it('one membership change at a time', () => {
    const c = new Cluster({ ids: ['n1', 'n2', 'n3', 'n4', 'n5'], joiners: ['n4', 'n5'], seed: 41 });
    elect(c, 'n1');
    c.tick(['n1']);
    c.deliver();
    expect(c.proposeConfChange('n1', { kind: 'addLearner', id: 'n4' })).toBe(true);
    expect(c.proposeConfChange('n1', { kind: 'addLearner', id: 'n5' })).toBe(false);
    c.deliver();
    expect(c.proposeConfChange('n1', { kind: 'addLearner', id: 'n5' })).toBe(true);
  });
});

describe('diss. §3.10 leadership transfer', () => {
  it('TimeoutNow hands leadership to an up-to-date follower without waiting for a timeout', () => {
    const c = new Cluster({ ids: ids3, seed: 43 });
    elect(c, 'n1');
    c.propose('n1', 'x');
    c.deliver();
    const term = c.raft('n1').term;
    expect(c.transferLeadership('n1', 'n2')).toBe(true);
    expect(c.propose('n1', 'refused')).toBe(false); // no proposals during a transfer
    c.deliver();
    expect(c.raft('n2').role).toBe('leader');
    expect(c.raft('n2').term).toBe(term + 1);
    expect(c.raft('n1').role).toBe('follower');
  });

  it('a lagging target is caught up first', () => {
    const c = new Cluster({ ids: ids3, seed: 47 });
    elect(c, 'n1');
    c.isolate('n3');
    for (let i = 0; i < 5; i++) c.propose('n1', `x${i}`);
    c.deliver();
    c.heal();
    c.transferLeadership('n1', 'n3');
    c.deliver();
    expect(c.raft('n3').role).toBe('leader');
    expect(c.raft('n3').log.lastIndex()).toBeGreaterThanOrEqual(c.raft('n1').log.lastIndex());
  });
});

describe('diss. §6.4 reads', () => {
  it('ReadIndex: the leader answers after a heartbeat round confirms it still leads', () => {
    const c = new Cluster({ ids: ids3, seed: 53 });
    elect(c, 'n1');
    c.propose('n1', 'x');
    c.deliver();
    expect(c.readIndex('n1', 'r1')).toBe(true);
    expect(c.node('n1').readStates).toEqual([]); // not before the quorum answers
    c.deliver();
    expect(c.node('n1').readStates).toEqual([{ index: c.raft('n1').log.committed, context: 'r1' }]);
  });

  it('ReadIndex on a deposed leader that cannot reach a quorum never answers', () => {
    const c = new Cluster({ ids: ids3, seed: 59, raft: { checkQuorum: false } });
    elect(c, 'n1');
    c.isolate('n1');
    c.readIndex('n1', 'stale');
    c.deliver();
    const leader = leaderAmong(c, ['n2', 'n3']);
    c.propose(leader, 'newer');
    c.deliver();
    expect(c.node('n1').readStates).toEqual([]);
  });

  it('ReadIndex from a follower asks the leader, then waits for its own apply', () => {
    const c = new Cluster({ ids: ids3, seed: 61 });
    elect(c, 'n1');
    c.propose('n1', 'x');
    c.deliver();
    expect(c.readIndex('n3', 'f1')).toBe(true);
    c.deliver();
    expect(c.node('n3').readStates).toEqual([{ index: c.raft('n1').log.committed, context: 'f1' }]);
  });

  it('lease reads answer without a heartbeat round while the lease holds, and stop trusting it after', () => {
    const c = new Cluster({
      ids: ids3,
      seed: 67,
      raft: { readOnly: 'lease', checkQuorum: true, electionTicks: 10 },
    });
    elect(c, 'n1');
    c.tick(['n1']);
    c.deliver();
    c.readIndex('n1', 'lease1');
    expect(c.node('n1').readStates.map((r) => r.context)).toEqual(['lease1']);
    expect(c.queue.filter((m) => m.type === 'heartbeat')).toHaveLength(0);
    c.isolate('n1');
    c.tick(['n1'], 9);
    c.drop();
    c.readIndex('n1', 'lease2');
    expect(c.node('n1').readStates.map((r) => r.context)).toEqual(['lease1']); // lease expired: needs a quorum
  });
});
