// The weather of a simulated run: how often messages are lost, duplicated and delayed, which
// protocol options are on, and how often nodes crash, all drawn from the run's seed.
import type { Random } from '@ddia/common/core';
import type { NodeId } from '../core/types.js';
import type { NetworkFaults } from '../transport/sim-network.js';
import type { SimRaftOptions } from './sim-node.js';

const CLIENT_INTERVAL_MS = 20;
const FAULT_INTERVAL_MIN_MS = 50;
const FAULT_INTERVAL_MAX_MS = 400;

/** The conditions of one run, drawn from its seed. */
export interface Weather {
  dropRate: number;
  duplicateRate: number;
  delayMaxMs: number;
  appendEntriesMax: number;
  inflightMax: number;
  preVote: boolean;
  checkQuorum: boolean;
  leaseReads: boolean;
  /** Application snapshot every this many applied entries (0 = never). */
  snapshotEvery: number;
  /** Share of fault events that crash a node. */
  crashRate: number;
  /** A crash point between "fsync returned" and "messages sent". */
  crashAfterWriteRate: number;
  /** Chance that a freshly elected leader dies moments later. */
  newLeaderCrashRate: number;
  /** Chance that a leader crashes the moment its commit index advances (before telling anyone). */
  crashOnCommitRate: number;
  clientIntervalMs: number;
  /** Share of client events that propose a membership change at the leader. */
  confChangeRate: number;
  faultMinMs: number;
  faultMaxMs: number;
}

/** Each seed draws its own weather, so the seed space covers gentle and brutal runs, every
 *  protocol option, and the small append batches and short-lived leaders that expose
 *  commit-rule bugs (the paper's Figure 8: a trail of short terms, each leaving one
 *  unreplicated entry behind). */
export function drawWeather(random: Random): Weather {
  if (random.chance(0.4)) {
    // The Figure 8 storm: no PreVote or CheckQuorum (terms churn), one entry per append, and
    // leaders that crash right after winning.
    return {
      dropRate: random.pick([0, 0.05]),
      duplicateRate: random.pick([0, 0.02]),
      delayMaxMs: random.pick([5, 20]),
      appendEntriesMax: 1,
      inflightMax: random.pick([1, 4]),
      preVote: false,
      checkQuorum: false,
      leaseReads: false,
      snapshotEvery: 0,
      crashRate: 0.5,
      crashAfterWriteRate: random.pick([0.005, 0.02]),
      newLeaderCrashRate: random.pick([0.3, 0.6]),
      crashOnCommitRate: random.pick([0.05, 0.2]),
      clientIntervalMs: 5,
      faultMinMs: 10,
      faultMaxMs: 150,
      confChangeRate: 0,
    };
  }
  const checkQuorum = random.chance(0.5);
  const [faultMinMs, faultMaxMs] = random.pick([
    [FAULT_INTERVAL_MIN_MS, FAULT_INTERVAL_MAX_MS],
    [10, 150],
  ]);
  const preVote = random.chance(0.5);
  return {
    dropRate: random.pick([0, 0.01, 0.05, 0.15]),
    duplicateRate: random.pick([0, 0.02, 0.1]),
    delayMaxMs: random.pick([5, 20, 60]),
    appendEntriesMax: random.pick([1, 2, 64]),
    inflightMax: random.pick([1, 4, 64]),
    preVote,
    checkQuorum,
    leaseReads: checkQuorum && random.chance(0.5),
    snapshotEvery: random.pick([0, 5, 25]),
    crashRate: random.pick([0.1, 0.3, 0.5]),
    crashAfterWriteRate: random.pick([0, 0.005, 0.02]),
    newLeaderCrashRate: random.pick([0, 0.3, 0.6]),
    crashOnCommitRate: random.pick([0, 0.01]),
    clientIntervalMs: CLIENT_INTERVAL_MS,
    faultMinMs,
    faultMaxMs,
    // Membership changes run with PreVote: without it, a member that missed its own removal's
    // neighbours (a stale configuration that can never win) keeps bumping its term and can
    // starve elections for seconds, the disruption diss. §9.6 introduces PreVote for.
    confChangeRate: preVote ? random.pick([0, 0.2]) : 0,
  };
}

/** The network a run's weather makes. */
export function weatherNetwork(w: Weather): NetworkFaults {
  return { dropRate: w.dropRate, duplicateRate: w.duplicateRate, delayMinMs: 1, delayMaxMs: w.delayMaxMs };
}

/** The core's settings in a run's weather. */
export function weatherRaftOptions(w: Weather): SimRaftOptions {
  return {
    appendEntriesMax: w.appendEntriesMax,
    inflightMax: w.inflightMax,
    preVote: w.preVote,
    checkQuorum: w.checkQuorum,
    readOnly: w.checkQuorum && w.leaseReads ? 'lease' : 'safe',
  };
}

export type Fault =
  | { kind: 'crash'; id: NodeId }
  | { kind: 'restartAll' }
  | { kind: 'partition'; groups: [NodeId[], NodeId[]] }
  | { kind: 'heal' };

/** One fault event of the weather: crash a node that is up (the leader half the time: that is
 *  where the interesting bugs live), restart every node that is down, partition, or heal. */
export function drawFault(
  random: Random,
  w: Weather,
  ids: NodeId[],
  up: NodeId[],
  leader: NodeId | undefined,
): Fault | null {
  const roll = random.next();
  if (roll < w.crashRate) {
    if (up.length === 0) return null;
    return { kind: 'crash', id: leader && random.chance(0.5) ? leader : random.pick(up) };
  }
  if (roll < w.crashRate + 0.25) return { kind: 'restartAll' };
  if (roll < w.crashRate + 0.45) {
    const shuffled = random.shuffle([...ids]);
    const cutAt = random.int(1, ids.length - 1);
    return { kind: 'partition', groups: [shuffled.slice(0, cutAt), shuffled.slice(cutAt)] };
  }
  return { kind: 'heal' };
}
