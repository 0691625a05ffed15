// The seeded simulation (TigerBeetle's VOPR, FoundationDB's simulator, in miniature): a whole
// cluster in one process on a virtual clock. From one seed it draws the timing of every tick,
// every message's fate (delay, loss, duplication) and a fault schedule (partitions, crashes,
// restarts), checks Raft's safety properties after every event, then heals everything and
// requires the cluster to elect a leader and commit. Same seed, same run: `trace` proves it.
import { type Random, SeededRandom } from '@ddia/common/core';
import { bootstrapState, type Raft } from '../core/raft.js';
import type { ConfChange, Message, NodeId, Ready } from '../core/types.js';
import { RELIABLE_NETWORK, SimNetwork } from '../transport/sim-network.js';
import { InvariantViolation, type LogView, SafetyChecker } from './checker.js';
import { EventQueue } from './event-queue.js';
import { foldHash, SimNode, type SimRaftOptions } from './sim-node.js';
import {
  drawFault,
  drawWeather,
  type Fault,
  type Weather,
  weatherNetwork,
  weatherRaftOptions,
} from './weather.js';

/** Virtual milliseconds per Raft tick. */
export const SIM_TICK_MS = 10;
export const SIM_CHAOS_MS_DEFAULT = 3_000;
/** After healing, the cluster must elect and commit within this budget. */
export const SIM_HEAL_BUDGET_MS = 4_000;
/** A simulated write takes 0 to this many milliseconds. */
export const DISK_DELAY_MAX_MS = 4;

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

type SimEvent =
  | { kind: 'tick'; id: NodeId }
  | { kind: 'deliver'; message: Message }
  | { kind: 'disk'; id: NodeId; ready: Ready; epoch: number; sentEarly: boolean }
  | { kind: 'client' }
  | { kind: 'fault' }
  | { kind: 'crash'; id: NodeId };

/** Runs one seed: `new Simulation(options).run()`, or `runSimulation(options)`. */
export function runSimulation(options: SimulationOptions): SimulationResult {
  return new Simulation(options).run();
}

/** Per-run bookkeeping the result reports. */
type SimulationStats = SimulationResult['stats'];

export function emptyStats(): SimulationStats {
  return {
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
}

/**
 * One run of one seed. Every draw comes from `random` in a fixed order, so the same options give
 * the same trace. The run has two phases: chaos (faults on, safety checked after every event),
 * then heal (faults off, every node restarted; a leader must commit a fresh entry everywhere).
 */
export class Simulation {
  private readonly random: Random;
  private readonly ids: NodeId[];
  private readonly chaosMs: number;
  private readonly w: Weather;
  private readonly checker = new SafetyChecker();
  private readonly network: SimNetwork;
  private readonly queue = new EventQueue<SimEvent>();
  private readonly nodes = new Map<NodeId, SimNode>();
  /** A node's driver runs one Ready at a time: true while its write is "on disk". */
  private readonly diskBusy = new Map<NodeId, boolean>();
  /** Bumped at each crash, so a write that was in flight when its node crashed is dropped. */
  private readonly epochs = new Map<NodeId, number>();
  private readonly journal: RunJournal;
  private readonly stats: SimulationStats;
  private now = 0;
  private commandSeq = 0;
  private readSeq = 0;
  private readonly pendingReads = new Map<string, { id: NodeId; committedAtStart: number }>();
  /** Nodes removed from the configuration are shut down when the cluster heals, as an operator
   *  would; until then they keep running (and may try to disrupt, diss. §4.2.3). */
  private readonly retired = new Set<NodeId>();
  private chaosPhase = true;

  constructor(private readonly options: SimulationOptions) {
    ({
      journal: this.journal,
      random: this.random,
      ids: this.ids,
      chaosMs: this.chaosMs,
      w: this.w,
    } = startRun(options));
    this.stats = this.journal.stats;
    const raftOptions: SimRaftOptions = { ...weatherRaftOptions(this.w), ...options.raft };
    this.network = new SimNetwork(this.random.fork(), weatherNetwork(this.w));
    const boot = bootstrapState(this.ids.map((id) => ({ id })));
    for (const id of this.ids) {
      const node = new SimNode(id, raftOptions, this.random, this.checker);
      node.snapshotEvery = this.w.snapshotEvery;
      node.storage.saveSync({ snapshot: null, entries: boot.entries, hardState: boot.hardState });
      node.start();
      this.nodes.set(id, node);
      this.epochs.set(id, 0);
      // Each node's ticks start at a different phase: clocks are not synchronized.
      this.queue.push(this.random.int(1, SIM_TICK_MS), { kind: 'tick', id });
    }
    this.queue.push(this.w.clientIntervalMs, { kind: 'client' });
    this.queue.push(this.random.int(this.w.faultMinMs, this.w.faultMaxMs), { kind: 'fault' });
  }

  /** Chaos, then heal; a safety or liveness violation ends the run and is reported, not thrown. */
  run(): SimulationResult {
    let violation: string | null = null;
    try {
      this.runChaos();
      this.heal();
      this.awaitFreshCommit();
    } catch (err) {
      violation = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      this.record(`${this.now} violation ${violation}`);
    }
    for (const n of this.nodes.values()) {
      this.stats.unsafeCommits += n.unsafeCommits + (n.raft?.unsafeCommits ?? 0);
    }
    return this.journal.result(this.options.seed, violation, this.network, this.checker);
  }

  /** Phase 1: every event until the chaos budget runs out, faults included. */
  private runChaos(): void {
    while ((this.queue.peekMs() ?? Number.POSITIVE_INFINITY) <= this.chaosMs) {
      const ev = this.queue.pop();
      if (!ev) break;
      this.now = ev.atMs;
      this.runEvent(ev.value, true);
    }
  }

  /** Phase 2 begins: heal the network, restart every node, retire the removed members. */
  private heal(): void {
    this.now = this.chaosMs;
    this.chaosPhase = false;
    this.network.heal();
    this.network.faults = RELIABLE_NETWORK;
    for (const id of this.ids) this.restart(id);
    // The node that knows the most committed entries knows the latest membership.
    const authority = [...this.nodes.values()].sort(
      (a, b) => (b.raft?.log.committed ?? 0) - (a.raft?.log.committed ?? 0),
    )[0];
    for (const id of this.ids) {
      if (authority.raft && !authority.raft.membership.has(id)) {
        this.crash(id);
        this.retired.add(id);
      }
    }
    this.record(`${this.now} healed`);
  }

  /** Liveness: within the heal budget a leader commits a fresh entry and every member applies it. */
  private awaitFreshCommit(): void {
    const deadline = this.chaosMs + SIM_HEAL_BUDGET_MS;
    let probe: { index: number; term: number } | null = null;
    let done = false;
    while (!done) {
      const ev = this.queue.pop();
      if (!ev || ev.atMs > deadline) break;
      this.now = ev.atMs;
      this.runEvent(ev.value, false);
      const leader = this.liveLeaders().sort((a, b) => b.raft.term - a.raft.term)[0];
      if (leader && this.stats.healedLeaderAfterMs < 0) {
        this.stats.healedLeaderAfterMs = this.now - this.chaosMs;
      }
      if (
        leader &&
        (!probe ||
          (leader.raft.log.term(probe.index) !== probe.term &&
            probe.index > leader.raft.log.snapshotMeta.index))
      ) {
        const r = leader.raft.propose(new TextEncoder().encode('after-heal'));
        if (r.ok) probe = { index: r.index, term: r.term };
        this.pump(leader.id);
      }
      if (probe) done = this.everyMemberApplied(probe, leader ? leader.raft.membership : null);
    }
    if (!done) {
      if (this.options.keepTrace) {
        this.record(`probe ${JSON.stringify(probe)}`);
        for (const n of this.nodes.values()) {
          this.record(`${n.id} applied ${n.appliedIndex} ${JSON.stringify(n.raft?.status())}`);
        }
      }
      throw livenessViolation(this.chaosMs);
    }
  }

  /** Compacted into a snapshot counts: the checker already saw it committed consistently. */
  private everyMemberApplied(
    probe: { index: number; term: number },
    members: { has(id: NodeId): boolean } | null,
  ): boolean {
    return [...this.nodes.values()].every(
      (n) =>
        this.retired.has(n.id) ||
        (members !== null && !members.has(n.id)) ||
        (n.appliedIndex >= probe.index &&
          n.raft !== null &&
          (n.raft.log.term(probe.index) === probe.term || probe.index <= n.raft.log.snapshotMeta.index)),
    );
  }

  private record(line: string): void {
    this.journal.record(line);
  }

  private node(id: NodeId): SimNode {
    return this.nodes.get(id) as SimNode;
  }

  private liveLeaders() {
    return [...this.nodes.values()]
      .filter((n) => n.raft?.role === 'leader')
      .map((n) => ({ id: n.id, raft: n.raft as NonNullable<SimNode['raft']> }));
  }

  /** Safety checks after every event that touched `id`; also where leaders get struck down. */
  private check(id: NodeId): void {
    const raft = this.nodes.get(id)?.raft;
    if (!raft) return;
    const { checker, journal, random, w, chaosPhase, now } = this;
    checkAfterEvent({ checker, journal, random, w, chaosPhase, now }, id, raft, {
      leaders: () => this.liveLeaders(),
      views: () => [...this.nodes.values()].map((n) => ({ id: n.id, views: n.logViews() })),
      crash: () => this.crash(id),
      crashAt: (atMs) => this.queue.push(atMs, { kind: 'crash', id }),
    });
  }

  /**
   * The driver loop of one node, as driver/raft-node.ts runs it: one Ready at a time goes to
   * "disk"; its entries apply only when the write completes. Its messages leave when the write
   * completes (persistence before send, §5.1 / Fig. 2), except a leader's appends, which leave
   * as the write starts (diss. §10.2.1, `Raft.canSendBeforePersist`): a crash can then strike
   * after the send and before the write, losing the leader's own copy of what it sent.
   */
  private pump(id: NodeId): void {
    const raft = this.node(id).raft;
    if (!raft || this.diskBusy.get(id) || !raft.hasReady()) return;
    const rd = raft.ready();
    const sentEarly = raft.canSendBeforePersist(rd);
    if (sentEarly) this.routeAll(rd.messages);
    if (
      sentEarly &&
      this.chaosPhase &&
      rd.entries.length > 0 &&
      this.random.chance(this.w.crashAfterWriteRate)
    ) {
      this.stats.crashesBeforePersist++;
      this.crash(id);
      return;
    }
    this.diskBusy.set(id, true);
    this.queue.push(this.now + this.random.int(0, DISK_DELAY_MAX_MS), {
      kind: 'disk',
      id,
      ready: rd,
      epoch: this.epochs.get(id) ?? 0,
      sentEarly,
    });
  }

  private routeAll(msgs: Message[]): void {
    for (const m of msgs) {
      for (const d of this.network.route(m, this.now)) {
        this.queue.push(d.atMs, { kind: 'deliver', message: d.message });
      }
    }
  }

  private finishDisk(id: NodeId, rd: Ready, sentEarly: boolean): void {
    const node = this.node(id);
    this.diskBusy.set(id, false);
    if (!node.raft) return;
    node.persist(rd);
    if (rd.snapshot) this.stats.snapshotsInstalled++;
    if (this.chaosPhase && this.random.chance(this.w.crashAfterWriteRate)) {
      this.crash(id);
      return;
    }
    const readsBefore = node.readStates.length;
    const msgs = node.apply(rd);
    for (const rs of node.readStates.slice(readsBefore)) {
      const pending = this.pendingReads.get(rs.context);
      if (pending) {
        this.pendingReads.delete(rs.context);
        this.checker.readReturned(id, rs.index, pending.committedAtStart);
        this.stats.readsChecked++;
      }
    }
    node.readStates = [];
    if (!sentEarly) this.routeAll(msgs);
  }

  private runEvent(ev: SimEvent, chaos: boolean): void {
    this.stats.events++;
    switch (ev.kind) {
      case 'tick': {
        this.node(ev.id).raft?.tick();
        this.queue.push(this.now + SIM_TICK_MS, ev);
        this.check(ev.id);
        this.pump(ev.id);
        return;
      }
      case 'deliver': {
        const m = ev.message;
        const node = this.node(m.to);
        if (!node.raft || !this.network.connected(m.from, m.to)) return;
        this.record(
          `${this.now} ${m.type} ${m.from}>${m.to} t${m.term} i${m.index} n${m.entries.length} c${m.commit}`,
        );
        node.raft.step(m);
        this.check(m.to);
        this.pump(m.to);
        return;
      }
      case 'disk':
        if (ev.epoch !== this.epochs.get(ev.id)) return; // the node crashed before the write finished
        this.finishDisk(ev.id, ev.ready, ev.sentEarly);
        this.check(ev.id);
        this.pump(ev.id);
        return;
      case 'client':
        this.queue.push(this.now + this.w.clientIntervalMs, ev);
        this.clientRequest(chaos);
        return;
      case 'crash':
        if (chaos) this.crash(ev.id);
        return;
      case 'fault':
        if (!chaos) return;
        this.injectFault();
        this.queue.push(this.now + this.random.int(this.w.faultMinMs, this.w.faultMaxMs), ev);
        return;
    }
  }

  /** A client at a random node: a membership change (chaos only), a ReadIndex read or a write. */
  private clientRequest(chaos: boolean): void {
    const { random } = this;
    if (chaos && random.chance(this.w.confChangeRate)) {
      this.proposeConfChange();
      return;
    }
    const node = this.node(random.pick(this.ids));
    if (!node.raft) return;
    if (random.chance(0.3)) {
      const context = `r${this.readSeq++}`;
      if (node.raft.readIndex(context)) {
        this.pendingReads.set(context, { id: node.id, committedAtStart: this.checker.maxCommitted });
      }
    } else {
      node.raft.propose(new TextEncoder().encode(`c${this.commandSeq++}`));
    }
    this.check(node.id);
    this.pump(node.id);
  }

  private crash(id: NodeId): void {
    const node = this.node(id);
    if (!node.up) return;
    node.crash();
    this.stats.crashes++;
    this.epochs.set(id, (this.epochs.get(id) ?? 0) + 1);
    this.diskBusy.set(id, false);
    this.record(`${this.now} crash ${id}`);
  }

  private restart(id: NodeId): void {
    const node = this.node(id);
    if (node.up || this.retired.has(id)) return;
    node.start();
    this.record(`${this.now} restart ${id}`);
    this.check(id);
    this.pump(id);
  }

  /** Single-server membership changes (diss. §4.1) while everything else goes wrong: remove a
   *  voter (keeping a minimum), re-add a removed node as a learner, or promote a learner. */
  private proposeConfChange(): void {
    const { random, ids } = this;
    const leader = this.liveLeaders()[0];
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
      this.stats.confChangesProposed++;
      this.record(`${this.now} conf ${cc.kind} ${cc.id} at ${r.index}`);
    }
    this.check(leader.id);
    this.pump(leader.id);
  }

  /** One fault from the seed's weather (weather.ts drawFault). */
  private injectFault(): void {
    const { ids } = this;
    const up = ids.filter((id) => this.nodes.get(id)?.up);
    const fault = drawFault(this.random, this.w, ids, up, this.liveLeaders()[0]?.id);
    if (fault?.kind === 'crash') this.crash(fault.id);
    else if (fault?.kind === 'restartAll') for (const id of ids) this.restart(id);
    else if (fault) this.record(applyNetworkFault(this.network, fault, this.now, this.stats));
  }
}

/** What every run starts from, in this order: its journal, its seed's generator, the node ids,
 *  the chaos budget and the weather (the seed's first draws). */
export function startRun(options: SimulationOptions) {
  const random = new SeededRandom(options.seed);
  return {
    journal: new RunJournal(options.keepTrace),
    random,
    ids: Array.from({ length: options.nodeCount }, (_, i) => `n${i + 1}`),
    chaosMs: options.chaosMs ?? SIM_CHAOS_MS_DEFAULT,
    w: { ...drawWeather(random), ...options.weather },
  };
}

/** What a run reports as it goes: its trace (hashed, and kept when asked) and its counts. */
export class RunJournal {
  readonly trace: string[] = [];
  readonly stats = emptyStats();
  traceHash = 0;
  private readonly leaderTerms = new Set<number>();

  constructor(private readonly keepTrace = false) {}

  record(line: string): void {
    this.traceHash = foldHash(this.traceHash, line);
    if (this.keepTrace) this.trace.push(line);
  }

  /** Counts and traces a leader of a term not seen before; true if it is one (the weather may
   *  then strike it down). */
  newLeader(id: NodeId, raft: Raft, nowMs: number): boolean {
    if (raft.role !== 'leader' || this.leaderTerms.has(raft.term)) return false;
    this.leaderTerms.add(raft.term);
    this.stats.leadersElected++;
    this.record(`${nowMs} leader ${id} term ${raft.term}`);
    return true;
  }

  /** The result, with the network's and the checker's counts; `unsafeCommits` is the caller's. */
  result(
    seed: number,
    violation: string | null,
    network: SimNetwork,
    checker: SafetyChecker,
  ): SimulationResult {
    const { stats } = this;
    stats.messagesSent = network.sent;
    stats.messagesDropped = network.dropped;
    stats.maxCommitted = checker.maxCommitted;
    return { seed, ok: violation === null, violation, traceHash: this.traceHash, trace: this.trace, stats };
  }
}

/** What checkAfterEvent reads of a run. */
interface CheckedRun {
  readonly checker: SafetyChecker;
  readonly journal: RunJournal;
  readonly random: Random;
  readonly w: Weather;
  readonly chaosPhase: boolean;
  readonly now: number;
}

/**
 * The safety checks after every event that touched node `id` (its core: `raft`), and where the
 * weather strikes leaders down: one whose commit index just advanced, at once (before it tells
 * anyone); a newly elected one, a few milliseconds later. "Could win an election" needs a fixed
 * set of voters: runs with membership changes rely on the checks of actual leaders instead.
 */
export function checkAfterEvent(
  run: CheckedRun,
  id: NodeId,
  raft: Raft,
  nodes: {
    leaders(): { id: NodeId; raft: Raft }[];
    views(): { id: NodeId; views: LogView[] }[];
    crash(): void;
    crashAt(atMs: number): void;
  },
): void {
  const { checker, random, w } = run;
  const commitBefore = checker.maxCommitted;
  checker.observe(id, raft);
  checker.checkLeaders(nodes.leaders());
  const committed = checker.maxCommitted > commitBefore;
  if (run.chaosPhase && raft.role === 'leader' && committed && random.chance(w.crashOnCommitRate)) {
    nodes.crash();
    return;
  }
  if (w.confChangeRate === 0) {
    const all = nodes.views();
    checker.checkPotentialLeaders(all, Math.floor(all.length / 2) + 1);
  }
  if (run.journal.newLeader(id, raft, run.now) && run.chaosPhase && random.chance(w.newLeaderCrashRate)) {
    nodes.crashAt(run.now + random.int(0, 2 * DISK_DELAY_MAX_MS));
  }
}

export function livenessViolation(chaosMs: number): InvariantViolation {
  return new InvariantViolation(
    `liveness: after healing at ${chaosMs} ms no leader committed a new entry on every node within ${SIM_HEAL_BUDGET_MS} ms`,
  );
}

/** A partition or a heal, applied to the network; returns the trace line. */
export function applyNetworkFault(
  network: SimNetwork,
  fault: Extract<Fault, { kind: 'partition' | 'heal' }>,
  nowMs: number,
  stats: SimulationStats,
): string {
  if (fault.kind === 'heal') {
    network.heal();
    return `${nowMs} heal`;
  }
  network.partition(fault.groups);
  stats.partitions++;
  return `${nowMs} partition ${fault.groups[0].join(',')} | ${fault.groups[1].join(',')}`;
}

export function replayCommand(seed: number, nodeCount: number, canary = false): string {
  const env = `RAFT_SEED=${seed} RAFT_NODES=${nodeCount}${canary ? ' RAFT_CANARY=1' : ''}`;
  return `${env} npx vitest run --project raft test/sim.test.ts`;
}
