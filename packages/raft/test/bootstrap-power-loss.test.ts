// A power cut inside a node's founding write (RaftNode.start saves the bootstrap membership
// entries, then the hard state that commits them). Whatever part of that write survives, the
// node must start again and serve: it said nothing to anyone before the write was durable, so
// finishing the founding write is what a clean first start would have done. (Found by
// @ddia/partitioning's power-loss test: the entries survived without the hard state, the
// restarted node saw its membership as uncommitted, had no voters and never elected itself.)
import { FaultFileSystem, SimulatedCrashError } from '@ddia/testkit';
import { describe, expect, it } from 'vitest';
import { bootstrapState, isUnfinishedFounding } from '../src/core/raft.js';
import { FileStorage, LocalNetwork, RaftNode } from '../src/index.js';
import { cmd, KvMachine, until } from './support/kv-machine.js';

const DIR = '/data/raft';
const TICK_MS = 5;
const SEEDS = [1, 2, 3, 4];
/** More mutating file-system calls than a founding write makes (the loop stops at the first
 *  cut point the start survives). */
const FOUNDING_OPS_MAX = 40;

async function startOn(fs: FaultFileSystem, members: { id: string }[]) {
  const storage = await FileStorage.open({ dir: DIR, fs, preallocateBytes: 0 });
  const node = await RaftNode.start({
    id: 'n1',
    members,
    storage,
    transport: new LocalNetwork().transport('n1'),
    stateMachine: new KvMachine(),
    tickMs: TICK_MS,
    electionTicks: 10,
    seed: 1,
  });
  return node;
}

describe('a power cut inside the founding write', () => {
  it(`a one-node cluster starts again and commits, whatever survived (seeds ${SEEDS.join(', ')}, every cut point)`, async () => {
    const members = [{ id: 'n1' }];
    let cutPoints = 0;
    for (const seed of SEEDS) {
      for (let ops = 0; ops < FOUNDING_OPS_MAX; ops++) {
        const fs = new FaultFileSystem({ seed: seed * 1000 + ops, crashAfterOps: ops });
        let first: RaftNode<string | null> | null = null;
        try {
          first = await startOn(fs, members);
        } catch (err) {
          const crashed =
            err instanceof SimulatedCrashError ||
            (err instanceof Error && err.cause instanceof SimulatedCrashError);
          if (!crashed && !fs.isCrashed) throw err;
        }
        if (first && !fs.isCrashed) {
          // The founding write finished before the cut point: every later point is past it.
          await first.stop();
          break;
        }
        await first?.stop().catch(() => {});
        cutPoints++;
        const node = await startOn(fs.crash(), members);
        try {
          await until(`seed ${seed}, cut after ${ops} ops: n1 elected`, () => node.isLeader, 5_000);
          const outcome = await node.propose(cmd('k=v'));
          expect(outcome.index, `seed ${seed}, cut after ${ops} ops`).toBeGreaterThan(members.length);
          expect([...node.core.membership.voters()], `seed ${seed}, cut after ${ops} ops`).toEqual(['n1']);
        } finally {
          await node.stop();
        }
      }
    }
    expect(cutPoints).toBeGreaterThan(SEEDS.length);
  }, 60_000);
});

describe('isUnfinishedFounding', () => {
  const founding = bootstrapState([{ id: 'n1' }, { id: 'n2' }, { id: 'n3' }]);
  const torn = (entries = founding.entries.slice(0, 2)) => ({
    hardState: { term: 0, vote: null, commit: 0 },
    snapshot: null,
    entries,
  });

  it('takes an empty log or a prefix of the founding entries with no term recorded', () => {
    expect(isUnfinishedFounding(torn([]), founding)).toBe(true);
    expect(isUnfinishedFounding(torn(), founding)).toBe(true);
    expect(isUnfinishedFounding(torn(founding.entries), founding)).toBe(true);
  });

  it('compares members by id: a node may be reached at another URL after the restart', () => {
    const before = bootstrapState([{ id: 'n1', url: 'http://127.0.0.1:40001' }]);
    const after = bootstrapState([{ id: 'n1', url: 'http://127.0.0.1:40002' }]);
    expect(isUnfinishedFounding(torn(before.entries), after)).toBe(true);
  });

  it('leaves alone a recorded term, other members, other bytes, or more entries', () => {
    expect(isUnfinishedFounding({ ...torn(), hardState: { term: 1, vote: null, commit: 0 } }, founding)).toBe(
      false,
    );
    const other = bootstrapState([{ id: 'n1' }, { id: 'n4' }]);
    expect(isUnfinishedFounding(torn(other.entries), founding)).toBe(false);
    const changed = founding.entries.map((e) => ({ ...e, data: e.data.slice() }));
    changed[1]!.data[0]! ^= 1;
    expect(isUnfinishedFounding(torn(changed), founding)).toBe(false);
    const longer = [
      ...founding.entries,
      { index: 4, term: 1, type: 'normal' as const, data: new Uint8Array() },
    ];
    expect(isUnfinishedFounding(torn(longer), founding)).toBe(false);
  });
});
