// Multi-leader replication topologies (DDIA Figure 5-8): all-to-all, circular and star, each
// converging under the seeded partitions and crashes of the multi-leader simulation, and the
// failure the book warns of in the sparse ones: one failed leader on a ring, or the hub of a
// star, stops the writes of the others from reaching each other until it is back; all-to-all
// routes around it.
import { ManualClock } from '@ddia/common/core';
import { replaySeed, testSeeds } from '@ddia/testkit';
import { describe, expect, it } from 'vitest';
import { viewOf } from '../src/core/key-state.js';
import { MULTI_LEADER_DEFAULTS, type MultiLeaderMessage, MultiLeaderNode } from '../src/core/multi-leader.js';
import { pushTargets, type Topology } from '../src/core/topology.js';
import { runMultiLeaderSim } from '../src/sim/multi-leader-sim.js';

// Seeds 7000 and up (those the figures in the README were recorded with); DDIA_SEED replays one.
const replay = replaySeed();
const SEEDS = replay !== null ? [replay] : testSeeds({ short: 5, long: 200 }).map((i) => 7000 + i - 1);
const FOUR = ['n1', 'n2', 'n3', 'n4'];

describe('push targets (Figure 5-8)', () => {
  it('all-to-all pushes to every other leader, circular to the next one, star through the hub', () => {
    expect(pushTargets('all-to-all', FOUR, 'n2')).toEqual(['n1', 'n3', 'n4']);
    expect(FOUR.map((id) => pushTargets('circular', FOUR, id))).toEqual([['n2'], ['n3'], ['n4'], ['n1']]);
    expect(pushTargets('star', FOUR, 'n1')).toEqual(['n2', 'n3', 'n4']);
    expect(pushTargets('star', FOUR, 'n3')).toEqual(['n1']);
    // Two leaders have one link whatever the shape.
    expect(pushTargets('circular', ['a', 'b'], 'b')).toEqual(['a']);
    expect(() => pushTargets('star', FOUR, 'n9')).toThrow(RangeError);
  });
});

describe.each(['circular', 'star'] as const)('%s topology under faults', (topology) => {
  it(`every leader converges after the heal and no acknowledged write is lost (${SEEDS.length} seeds, 4 leaders)`, () => {
    const failures: string[] = [];
    for (const seed of SEEDS) {
      const result = runMultiLeaderSim({ seed, nodes: 4, topology });
      if (!result.ok) {
        failures.push(`seed ${seed}: ${result.violations.slice(0, 2).join('; ')}`);
        console.error(`replay: DDIA_SEED=${seed} npx vitest run --project replication:unit topologies`);
      }
    }
    expect(failures).toEqual([]);
  });
});

/** Four leaders wired by hand; `down` leaders take no messages and send none. */
function fourLeaders(topology: Topology) {
  const clock = new ManualClock(0);
  const nodes = new Map(
    FOUR.map((id) => [
      id,
      new MultiLeaderNode(
        // Anti-entropy off: the test watches the pushes alone.
        { ...MULTI_LEADER_DEFAULTS, id, nodes: FOUR, topology, antiEntropyEveryMs: 0 },
        clock,
      ),
    ]),
  );
  const down = new Set<string>();
  const settle = () => {
    for (let round = 0; round < 40; round++) {
      clock.advance(MULTI_LEADER_DEFAULTS.pushEveryMs);
      for (const [id, node] of nodes) {
        if (down.has(id)) continue;
        node.tick();
        for (const { to, msg } of node.drain().messages) {
          if (!down.has(to)) nodes.get(to)?.step(id, structuredClone(msg) as MultiLeaderMessage);
        }
      }
    }
  };
  const write = (id: string, key: string, value: string) => {
    const node = nodes.get(id)!;
    node.request(1, { kind: 'write', key, mutation: { op: 'put', value, context: null, type: 'mv' } });
    expect(node.drain().replies[0]?.result.ok).toBe(true);
  };
  const read = (id: string, key: string) => {
    const state = nodes.get(id)!.store.get(key);
    return state ? viewOf(state).values : [];
  };
  return { nodes, down, settle, write, read };
}

describe('a failed leader in a sparse topology (Figure 5-8)', () => {
  it('circular: with n2 down, a write at n1 reaches nobody; n2 back, it goes round the ring', () => {
    const c = fourLeaders('circular');
    c.down.add('n2');
    c.write('n1', 'x', 'from-n1');
    c.settle();
    expect(['n3', 'n4'].map((id) => c.read(id, 'x'))).toEqual([[], []]);
    // n3's write still travels n3 -> n4 -> n1, and stops at the hole.
    c.write('n3', 'y', 'from-n3');
    c.settle();
    expect(['n4', 'n1'].map((id) => c.read(id, 'y'))).toEqual([['from-n3'], ['from-n3']]);
    c.down.delete('n2');
    c.settle();
    for (const id of FOUR) {
      expect(c.read(id, 'x')).toEqual(['from-n1']);
      expect(c.read(id, 'y')).toEqual(['from-n3']);
    }
  });

  it('star: with the hub down, leaves reach nobody; the hub back, everyone has everything', () => {
    const c = fourLeaders('star');
    c.down.add('n1');
    c.write('n2', 'x', 'from-n2');
    c.settle();
    expect(['n3', 'n4'].map((id) => c.read(id, 'x'))).toEqual([[], []]);
    c.down.delete('n1');
    c.settle();
    for (const id of FOUR) expect(c.read(id, 'x')).toEqual(['from-n2']);
  });

  it('all-to-all: the same failed leader does not stop the others', () => {
    const c = fourLeaders('all-to-all');
    c.down.add('n2');
    c.write('n1', 'x', 'from-n1');
    c.settle();
    expect(['n3', 'n4'].map((id) => c.read(id, 'x'))).toEqual([['from-n1'], ['from-n1']]);
  });

  it('a write crosses the ring in hops and stops where it started (no endless circling)', () => {
    const c = fourLeaders('circular');
    c.write('n1', 'x', 'v');
    c.settle();
    for (const id of FOUR) expect(c.read(id, 'x')).toEqual(['v']);
    // Quiet afterwards: nothing left to push anywhere.
    c.settle();
    let moved = 0;
    for (const node of c.nodes.values()) {
      node.tick();
      moved += node.drain().messages.filter((m) => m.msg.type === 'push').length;
    }
    expect(moved).toBe(0);
  });
});
