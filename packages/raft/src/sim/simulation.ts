// The seeded simulation (TigerBeetle's VOPR, FoundationDB's simulator, in miniature): a whole
// cluster in one process on a virtual clock. From one seed it draws the timing of every tick,
// every message's fate (delay, loss, duplication) and a fault schedule (partitions, crashes,
// restarts), checks Raft's safety properties after every event, then heals everything and
// requires the cluster to elect a leader and commit. Same seed, same run: `trace` proves it.
import { type Random, SeededRandom } from '@ddia/common';
import { bootstrapState } from '../core/raft.js';
import type { ConfChange, Message, NodeId, Ready } from '../core/types.js';
import { type NetworkFaults, SimNetwork } from '../transport/sim-network.js';
import { InvariantViolation, SafetyChecker } from './checker.js';
import { EventQueue } from './event-queue.js';
import { foldHash, SimNode, type SimRaftOptions } from './sim-node.js';

/** Virtual milliseconds per Raft tick. */
export const SIM_TICK_MS = 10;
export const SIM_CHAOS_MS_DEFAULT = 3_000;
/** After healing, the cluster must elect and commit within this budget. */
export const SIM_HEAL_BUDGET_MS = 4_000;
const CLIENT_INTERVAL_MS = 20;
const FAULT_INTERVAL_MIN_MS = 50;
const FAULT_INTERVAL_MAX_MS = 400;
const DISK_DELAY_MAX_MS = 4;

export interface SimulationOptions {
  seed: number;
  nodeCount: number;
  chaosMs?: number;
  raft?: SimRaftOptions;
  /** Override parts of the seed's weather (experiments; the default run never does). */
  weather?: Partial<Weather>;
  /** Keep the full event trace (for the determinism test and for debugging). */
  keepTrace?: boolean;
}

export interface SimulationResult {
  seed: number;
  ok: boolean;
  violation: string | null;
  /** A hash of every event, in order: equal for equal seeds. */
  traceHash: number;
  trace: string[];
  stats: {
    events: number;
    messagesSent: number;
    messagesDropped: number;
    crashes: number;
    /** Crashes of a leader after it sent appends and before its own write (diss. §10.2.1). */
    crashesBeforePersist: number;
    partitions: number;
    leadersElected: number;
    maxCommitted: number;
    readsChecked: number;
    snapshotsInstalled: number;
    healedLeaderAfterMs: number;
    /** Canary runs: older-term entries committed by counting replicas (the Figure 8 bug). */
    unsafeCommits: number;
    confChangesProposed: number;
  };
}

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

type SimEvent =
  | { kind: 'tick'; id: NodeId }
  | { kind: 'deliver'; message: Message }
  | { kind: 'disk'; id: NodeId; ready: Ready; epoch: number; sentEarly: boolean }
  | { kind: 'client' }
  | { kind: 'fault' }
  | { kind: 'crash'; id: NodeId };

export function runSimulation(options: SimulationOptions): SimulationResult {
  const random = new SeededRandom(options.seed);
  const ids = Array.from({ length: options.nodeCount }, (_, i) => `n${i + 1}`);
  const chaosMs = options.chaosMs ?? SIM_CHAOS_MS_DEFAULT;
  const w: Weather = { ...drawWeather(random), ...options.weather };
  const faults: NetworkFaults = {
    dropRate: w.dropRate,
    duplicateRate: w.duplicateRate,
    delayMinMs: 1,
    delayMaxMs: w.delayMaxMs,
  };
  const raftOptions: SimRaftOptions = {
    appendEntriesMax: w.appendEntriesMax,
    inflightMax: w.inflightMax,
    preVote: w.preVote,
    checkQuorum: w.checkQuorum,
    readOnly: w.checkQuorum && w.leaseReads ? 'lease' : 'safe',
    ...options.raft,
  };
  const { snapshotEvery, crashRate, crashAfterWriteRate, newLeaderCrashRate, faultMinMs, faultMaxMs } = w;

  const checker = new SafetyChecker();
  const network = new SimNetwork(random.fork(), faults);
  const queue = new EventQueue<SimEvent>();
  const nodes = new Map<NodeId, SimNode>();
  const diskBusy = new Map<NodeId, boolean>();
  const epochs = new Map<NodeId, number>();
  const trace: string[] = [];
  let traceHash = 0;
  let now = 0;
  let commandSeq = 0;
  let readSeq = 0;
  const pendingReads = new Map<string, { id: NodeId; committedAtStart: number }>();
  const stats: SimulationResult['stats'] = {
    events: 0,
    messagesSent: 0,
    messagesDropped: 0,
    crashes: 0,
    crashesBeforePersist: 0,
    partitions: 0,
    leadersElected: 0,
    maxCommitted: 0,
    readsChecked: 0,
    snapshotsInstalled: 0,
    healedLeaderAfterMs: -1,
    unsafeCommits: 0,
    confChangesProposed: 0,
  };
  // Nodes removed from the configuration are shut down when the cluster heals, as an operator
  // would; until then they keep running (and may try to disrupt, diss. §4.2.3).
  const retired = new Set<NodeId>();
  const leaderTerms = new Set<number>();
  let chaosPhase = true;

  const record = (line: string) => {
    traceHash = foldHash(traceHash, line);
    if (options.keepTrace) trace.push(line);
  };

  const boot = bootstrapState(ids.map((id) => ({ id })));
  for (const id of ids) {
    const node = new SimNode(id, raftOptions, random, checker);
    node.snapshotEvery = snapshotEvery;
    node.storage.saveSync({ snapshot: null, entries: boot.entries, hardState: boot.hardState });
    node.start();
    nodes.set(id, node);
    epochs.set(id, 0);
    // Each node's ticks start at a different phase: clocks are not synchronized.
    queue.push(random.int(1, SIM_TICK_MS), { kind: 'tick', id });
  }
  queue.push(w.clientIntervalMs, { kind: 'client' });
  queue.push(random.int(faultMinMs, faultMaxMs), { kind: 'fault' });

  const liveLeaders = () =>
    [...nodes.values()]
      .filter((n) => n.raft?.role === 'leader')
      .map((n) => ({ id: n.id, raft: n.raft as NonNullable<SimNode['raft']> }));

  const check = (id: NodeId) => {
    const raft = nodes.get(id)?.raft;
    if (!raft) return;
    const commitBefore = checker.maxCommitted;
    checker.observe(id, raft);
    if (
      chaosPhase &&
      raft.role === 'leader' &&
      checker.maxCommitted > commitBefore &&
      random.chance(w.crashOnCommitRate)
    ) {
      checker.checkLeaders(liveLeaders());
      crash(id);
      return;
    }
    checker.checkLeaders(liveLeaders());
    // "Could win an election" needs a fixed set of voters; runs with membership changes rely
    // on the checks of actual leaders instead.
    if (w.confChangeRate === 0) {
      checker.checkPotentialLeaders(
        [...nodes.values()].map((n) => ({ id: n.id, views: n.logViews() })),
        Math.floor(nodes.size / 2) + 1,
      );
    }
    if (raft.role === 'leader' && !leaderTerms.has(raft.term)) {
      leaderTerms.add(raft.term);
      stats.leadersElected++;
      record(`${now} leader ${id} term ${raft.term}`);
      if (chaosPhase && random.chance(newLeaderCrashRate)) {
        queue.push(now + random.int(0, 2 * DISK_DELAY_MAX_MS), { kind: 'crash', id });
      }
    }
  };

  // The driver loop of one node, as driver/raft-node.ts runs it: one Ready at a time goes to
  // "disk"; its entries apply only when the write completes. Its messages leave when the write
  // completes (persistence before send, §5.1 / Fig. 2), except a leader's appends, which leave
  // as the write starts (diss. §10.2.1, `Raft.canSendBeforePersist`): a crash can then strike
  // after the send and before the write, losing the leader's own copy of what it sent.
  const pump = (id: NodeId) => {
    const node = nodes.get(id) as SimNode;
    const raft = node.raft;
    if (!raft || diskBusy.get(id) || !raft.hasReady()) return;
    const rd = raft.ready();
    const sentEarly = raft.canSendBeforePersist(rd);
    if (sentEarly) routeAll(rd.messages);
    if (sentEarly && chaosPhase && rd.entries.length > 0 && random.chance(crashAfterWriteRate)) {
      stats.crashesBeforePersist++;
      crash(id);
      return;
    }
    diskBusy.set(id, true);
    queue.push(now + random.int(0, DISK_DELAY_MAX_MS), {
      kind: 'disk',
      id,
      ready: rd,
      epoch: epochs.get(id) ?? 0,
      sentEarly,
    });
  };

  const routeAll = (msgs: Message[]) => {
    for (const m of msgs) {
      for (const d of network.route(m, now)) queue.push(d.atMs, { kind: 'deliver', message: d.message });
    }
  };

  const finishDisk = (id: NodeId, rd: Ready, sentEarly: boolean) => {
    const node = nodes.get(id) as SimNode;
    diskBusy.set(id, false);
    if (!node.raft) return;
    node.persist(rd);
    if (rd.snapshot) stats.snapshotsInstalled++;
    if (chaosPhase && random.chance(crashAfterWriteRate)) {
      crash(id);
      return;
    }
    const readsBefore = node.readStates.length;
    const msgs = node.apply(rd);
    for (const rs of node.readStates.slice(readsBefore)) {
      const pending = pendingReads.get(rs.context);
      if (pending) {
        pendingReads.delete(rs.context);
        checker.readReturned(id, rs.index, pending.committedAtStart);
        stats.readsChecked++;
      }
    }
    node.readStates = [];
    if (!sentEarly) routeAll(msgs);
  };

  const runEvent = (ev: SimEvent, chaos: boolean) => {
    stats.events++;
    switch (ev.kind) {
      case 'tick': {
        const node = nodes.get(ev.id) as SimNode;
        node.raft?.tick();
        queue.push(now + SIM_TICK_MS, ev);
        check(ev.id);
        pump(ev.id);
        return;
      }
      case 'deliver': {
        const m = ev.message;
        const node = nodes.get(m.to) as SimNode;
        if (!node.raft || !network.connected(m.from, m.to)) return;
        record(`${now} ${m.type} ${m.from}>${m.to} t${m.term} i${m.index} n${m.entries.length} c${m.commit}`);
        node.raft.step(m);
        check(m.to);
        pump(m.to);
        return;
      }
      case 'disk':
        if (ev.epoch !== epochs.get(ev.id)) return; // the node crashed before the write finished
        finishDisk(ev.id, ev.ready, ev.sentEarly);
        check(ev.id);
        pump(ev.id);
        return;
      case 'client': {
        queue.push(now + w.clientIntervalMs, ev);
        if (chaos && random.chance(w.confChangeRate)) {
          proposeConfChange();
          return;
        }
        const node = nodes.get(random.pick(ids)) as SimNode;
        if (!node.raft) return;
        if (random.chance(0.3)) {
          const context = `r${readSeq++}`;
          if (node.raft.readIndex(context)) {
            pendingReads.set(context, { id: node.id, committedAtStart: checker.maxCommitted });
          }
        } else {
          node.raft.propose(new TextEncoder().encode(`c${commandSeq++}`));
        }
        check(node.id);
        pump(node.id);
        return;
      }
      case 'crash':
        if (chaos) crash(ev.id);
        return;
      case 'fault':
        if (!chaos) return;
        injectFault();
        queue.push(now + random.int(faultMinMs, faultMaxMs), ev);
        return;
    }
  };

  const crash = (id: NodeId) => {
    const node = nodes.get(id) as SimNode;
    if (!node.up) return;
    node.crash();
    stats.crashes++;
    epochs.set(id, (epochs.get(id) ?? 0) + 1);
    diskBusy.set(id, false);
    record(`${now} crash ${id}`);
  };

  const restart = (id: NodeId) => {
    const node = nodes.get(id) as SimNode;
    if (node.up || retired.has(id)) return;
    node.start();
    record(`${now} restart ${id}`);
    check(id);
    pump(id);
  };

  // Single-server membership changes (diss. §4.1) while everything else goes wrong: remove a
  // voter (keeping a minimum), re-add a removed node as a learner, or promote a learner.
  const proposeConfChange = () => {
    const leader = liveLeaders()[0];
    if (!leader) return;
    const m = leader.raft.membership;
    const voters = m.voters();
    const learners = m.all().filter((id) => !m.isVoter(id));
    const removed = ids.filter((id) => !m.has(id));
    const choices: ConfChange[] = [];
    if (voters.length > (ids.length <= 3 ? 2 : 3)) choices.push({ kind: 'remove', id: random.pick(voters) });
    if (learners.length > 0) choices.push({ kind: 'addVoter', id: random.pick(learners) });
    if (removed.length > 0) choices.push({ kind: 'addLearner', id: random.pick(removed) });
    if (choices.length === 0) return;
    const cc = random.pick(choices);
    const r = leader.raft.proposeConfChange(cc);
    if (r.ok) {
      stats.confChangesProposed++;
      record(`${now} conf ${cc.kind} ${cc.id} at ${r.index}`);
    }
    check(leader.id);
    pump(leader.id);
  };

  const injectFault = () => {
    const roll = random.next();
    if (roll < crashRate) {
      const up = ids.filter((id) => nodes.get(id)?.up);
      // Prefer crashing the leader: that is where the interesting bugs live.
      const leader = liveLeaders()[0]?.id;
      if (up.length === 0) return;
      const victim = leader && random.chance(0.5) ? leader : random.pick(up);
      crash(victim);
    } else if (roll < crashRate + 0.25) {
      for (const id of ids) if (!nodes.get(id)?.up) restart(id);
    } else if (roll < crashRate + 0.45) {
      const shuffled = random.shuffle([...ids]);
      const cutAt = random.int(1, ids.length - 1);
      network.partition([shuffled.slice(0, cutAt), shuffled.slice(cutAt)]);
      stats.partitions++;
      record(`${now} partition ${shuffled.slice(0, cutAt).join(',')} | ${shuffled.slice(cutAt).join(',')}`);
    } else {
      network.heal();
      record(`${now} heal`);
    }
  };

  let violation: string | null = null;
  try {
    // Phase 1: chaos.
    while ((queue.peekMs() ?? Number.POSITIVE_INFINITY) <= chaosMs) {
      const ev = queue.pop();
      if (!ev) break;
      now = ev.atMs;
      runEvent(ev.value, true);
    }
    // Phase 2: heal everything; the cluster must elect a leader and commit a fresh entry.
    now = chaosMs;
    chaosPhase = false;
    network.heal();
    network.faults = { dropRate: 0, duplicateRate: 0, delayMinMs: 1, delayMaxMs: 5 };
    for (const id of ids) restart(id);
    // The node that knows the most committed entries knows the latest membership.
    const authority = [...nodes.values()].sort(
      (a, b) => (b.raft?.log.committed ?? 0) - (a.raft?.log.committed ?? 0),
    )[0];
    for (const id of ids) {
      if (authority.raft && !authority.raft.membership.has(id)) {
        crash(id);
        retired.add(id);
      }
    }
    record(`${now} healed`);
    const deadline = chaosMs + SIM_HEAL_BUDGET_MS;
    let probe: { index: number; term: number } | null = null;
    let done = false;
    while (!done) {
      const ev = queue.pop();
      if (!ev || ev.atMs > deadline) break;
      now = ev.atMs;
      runEvent(ev.value, false);
      const leader = liveLeaders().sort((a, b) => b.raft.term - a.raft.term)[0];
      if (leader && stats.healedLeaderAfterMs < 0) stats.healedLeaderAfterMs = now - chaosMs;
      if (
        leader &&
        (!probe ||
          (leader.raft.log.term(probe.index) !== probe.term &&
            probe.index > leader.raft.log.snapshotMeta.index))
      ) {
        const r = leader.raft.propose(new TextEncoder().encode('after-heal'));
        if (r.ok) probe = { index: r.index, term: r.term };
        pump(leader.id);
      }
      if (probe) {
        const p = probe;
        // Compacted into a snapshot counts: the checker already saw it committed consistently.
        const members = leader ? leader.raft.membership : null;
        done = [...nodes.values()].every(
          (n) =>
            retired.has(n.id) ||
            (members !== null && !members.has(n.id)) ||
            (n.appliedIndex >= p.index &&
              n.raft !== null &&
              (n.raft.log.term(p.index) === p.term || p.index <= n.raft.log.snapshotMeta.index)),
        );
      }
    }
    if (!done) {
      if (options.keepTrace) {
        record(`probe ${JSON.stringify(probe)}`);
        for (const n of nodes.values())
          record(`${n.id} applied ${n.appliedIndex} ${JSON.stringify(n.raft?.status())}`);
      }
      throw new InvariantViolation(
        `liveness: after healing at ${chaosMs} ms no leader committed a new entry on every node within ${SIM_HEAL_BUDGET_MS} ms`,
      );
    }
  } catch (err) {
    violation = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    record(`${now} violation ${violation}`);
  }
  stats.messagesSent = network.sent;
  stats.messagesDropped = network.dropped;
  stats.maxCommitted = checker.maxCommitted;
  for (const n of nodes.values()) stats.unsafeCommits += n.unsafeCommits + (n.raft?.unsafeCommits ?? 0);
  return { seed: options.seed, ok: violation === null, violation, traceHash, trace, stats };
}

export function replayCommand(seed: number, nodeCount: number, canary = false): string {
  const env = `RAFT_SEED=${seed} RAFT_NODES=${nodeCount}${canary ? ' RAFT_CANARY=1' : ''}`;
  return `${env} npx vitest run --project raft test/sim.test.ts`;
}
