// A seeded simulation of the move protocol's safety rule, over the pure configuration state
// machine (applyConfigCommand in src/core/): "at most one node serves a partition at any moment".
// Each simulated node applies the controller log at its own pace and may crash and come back
// with any shorter prefix applied (the worst a lost Raft hard-state tail can do); the mover
// freezes, seals (only once the owner has applied the freeze, as /internal/.../seal waits for),
// flips or aborts; nodes join and leave. A node serves a partition when its applied
// configuration says it owns it, unfrozen, and it has not sealed the partition for a later
// freeze (partition-node.ts `servable`). A canary without the seal record must be caught.
// Replay one seed: DDIA_SEED=<seed> npx vitest run --project partitioning move-protocol

import { SeededRandom } from '@ddia/common';
import { testSeeds } from '@ddia/testkit';
import { describe, expect, it } from 'vitest';
import { applyConfigCommand, type ConfigCommand, pendingMoves } from '../src/core/index.js';
import type { Config } from './config-steps.js';

const SEEDS = testSeeds({ short: 300, long: 300 });
const STEPS = 400;
const ALL = ['n1', 'n2', 'n3', 'n4', 'n5'];

interface SimNode {
  applied: number; // entries of the log applied
  sealed: Map<number, number>; // partition -> freeze epoch sealed for (durable)
}

function simulate(seed: number, useSealRecord: boolean): string | null {
  const random = new SeededRandom(seed);
  const configs: Config[] = [];
  const append = (command: ConfigCommand): boolean => {
    const { config, result } = applyConfigCommand(configs.at(-1) ?? null, command);
    if (!result.ok || !config) return false;
    configs.push(config);
    return true;
  };
  append({
    op: 'bootstrap',
    scheme: 'hash',
    partitions: 6,
    nodes: ['n1', 'n2', 'n3'].map((id) => ({ id, url: `http://${id}` })),
  });
  const nodes = new Map<string, SimNode>(ALL.map((id) => [id, { applied: 0, sealed: new Map() }]));
  const view = (id: string) => {
    const node = nodes.get(id) as SimNode;
    return node.applied === 0 ? null : (configs[node.applied - 1] as Config);
  };
  const serves = (id: string, partition: number): boolean => {
    const config = view(id);
    const p = config?.partitions.find((x) => x.id === partition);
    if (!config || !p || p.owner !== id || p.frozen) return false;
    return !useSealRecord || ((nodes.get(id) as SimNode).sealed.get(partition) ?? 0) <= config.epoch;
  };

  for (let step = 0; step < STEPS; step++) {
    const roll = random.next();
    const latest = configs.at(-1) as Config;
    if (roll < 0.4) {
      // A node applies one more committed entry.
      const node = nodes.get(random.pick(ALL)) as SimNode;
      if (node.applied < configs.length) node.applied++;
    } else if (roll < 0.5) {
      // A crash: the node comes back with any prefix of what it had applied.
      const node = nodes.get(random.pick(ALL)) as SimNode;
      node.applied = random.int(0, node.applied);
    } else if (roll < 0.55) {
      const id = random.pick(ALL);
      if (latest.nodes.some((n) => n.id === id)) append({ op: 'leave', id });
      else append({ op: 'join', id, url: `http://${id}` });
    } else {
      // The mover takes one step on a pending move.
      const moves = pendingMoves(latest);
      if (moves.length === 0) continue;
      const p = random.pick(moves);
      if (!p.frozen) {
        append({ op: 'freeze', partition: p.id, to: p.target });
        continue;
      }
      // The first epoch of the current freeze: walk back while the partition stays frozen.
      let firstFrozen = configs.length - 1;
      while (firstFrozen > 0 && configs[firstFrozen - 1]?.partitions.find((x) => x.id === p.id)?.frozen)
        firstFrozen--;
      const sealEpoch = (configs[firstFrozen] as Config).epoch;
      const owner = nodes.get(p.owner) as SimNode;
      const sealedNow = (owner.sealed.get(p.id) ?? 0) >= sealEpoch;
      if (random.next() < 0.15) {
        append({ op: 'abort', partition: p.id });
      } else if (!sealedNow) {
        // Seal: only an owner that has applied the freeze answers it.
        const ownerView = view(p.owner);
        if (ownerView && ownerView.epoch >= sealEpoch) owner.sealed.set(p.id, sealEpoch);
      } else {
        append({ op: 'finish', partition: p.id, to: p.target });
      }
    }
    for (const p of latest.partitions) {
      const servers = ALL.filter((id) => serves(id, p.id));
      if (servers.length > 1) {
        return `step ${step}: partition ${p.id} served by ${servers.join(' and ')} (applied ${servers
          .map((id) => view(id)?.epoch)
          .join(', ')}; latest epoch ${latest.epoch})`;
      }
    }
  }
  return null;
}

describe('move protocol simulation (seeded): at most one node serves a partition', () => {
  it(`holds with the seal record, through crashes that lose applied entries (${SEEDS.length} seeds)`, () => {
    for (const seed of SEEDS) {
      const failure = simulate(seed, true);
      if (failure) expect.fail(`seed ${seed}: ${failure} (replay: DDIA_SEED=${seed})`);
    }
  });

  it('canary: without the seal record, a restarted owner serves a partition that has moved', () => {
    const caught = SEEDS.filter((seed) => simulate(seed, false) !== null).length;
    console.log(`canary: ${caught} of ${SEEDS.length} seeds found two nodes serving one partition`);
    expect(caught).toBeGreaterThan(0);
  });
});
