// The seeded simulation run by the production driver: every node is a real RaftNode (the code
// the kv-store runs), with its clock, its "next turn of the event loop", its transport and its
// disk injected, so one seed decides everything that happens, as in simulation.ts. Time is
// virtual: timers, next turns, message deliveries and disk writes are events in one queue,
// taken in order; after each, the promises it settled run to the end (all of them resolve
// through microtasks: no real I/O, no real timer) before the next event is taken.
// What differs from simulation.ts, which steps the core through SimNode: here the driver's own
// Ready loop, group commit, send-before-persist, apply batching, snapshotter, pending proposals,
// ReadIndex rounds, forwarded proposals and membership API run, and client operations are the
// node's public promises (a write is acknowledged when its promise resolves).
import type { TimerClock } from '@ddia/common/core';
import type { Message, NodeId } from '../core/types.js';
import { RaftNode, type StateMachine } from '../driver/raft-node.js';
import { RaftError } from '../errors.js';
import { MemoryStorage } from '../storage/memory-storage.js';
import type { RaftStorage, StorageUpdate } from '../storage/storage.js';
import { RELIABLE_NETWORK, SimNetwork } from '../transport/sim-network.js';
import type { Transport } from '../transport/transport.js';
import { InvariantViolation, type LogView, SafetyChecker } from './checker.js';
import { EventQueue } from './event-queue.js';
import { MemoryDisks, type SimDisks } from './sim-disk.js';
import {
  decodeSimSnapshot,
  encodeSimSnapshot,
  foldHash,
  memoryLogView,
  type SimRaftOptions,
  storageLogView,
} from './sim-node.js';
import {
  applyNetworkFault,
  checkAfterEvent,
  DISK_DELAY_MAX_MS,
  livenessViolation,
  SIM_HEAL_BUDGET_MS,
  SIM_TICK_MS,
  type SimulationOptions,
  type SimulationResult,
  startRun,
} from './simulation.js';
import { drawFault, weatherNetwork, weatherRaftOptions } from './weather.js';

/** A torn write loses power after up to this many of its file-system operations. */
const TORN_WRITE_OPS_MAX = 6;
/** Client operations give up after this long (virtual): a lost proposal must not wait 5 s. */
const CLIENT_TIMEOUT_MS = 1_000;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

export interface NodeSimulationOptions extends SimulationOptions {
  /** The nodes' disks (default MemoryDisks); tests pass FileStorage on a FaultFileSystem. */
  disks?: SimDisks;
}

type NodeSimEvent =
  | { kind: 'call'; id: NodeId; epoch: number; fn: () => void }
  | { kind: 'deliver'; message: Message }
  | { kind: 'client' }
  | { kind: 'fault' }
  | { kind: 'crash'; id: NodeId };

/** The application of every simulated node: a running hash of the commands applied, so two
 *  nodes that applied the same commands at the same indexes are in the same state. */
class HashMachine implements StateMachine<number> {
  stateHash = 0;

  constructor(private readonly onApply: (index: number, stateHash: number) => void) {}

  apply(command: Uint8Array, meta: { index: number }): number {
    this.stateHash = foldHash(this.stateHash, `${meta.index}:${textDecoder.decode(command)}`);
    this.onApply(meta.index, this.stateHash);
    return this.stateHash;
  }
  snapshot(): Uint8Array {
    return encodeSimSnapshot(this.stateHash);
  }
  restore(data: Uint8Array): void {
    this.stateHash = decodeSimSnapshot(data);
  }
}

/** One life of a node, from a (re)start to its crash; after a crash, a down one until the restart. */
interface Incarnation {
  epoch: number;
  down: boolean;
  /** Null until RaftNode.start resolves. */
  node: RaftNode<number> | null;
  deliver: ((messages: Message[]) => void) | null;
  /** The virtual time at which the disk finishes the writes queued so far (one at a time). */
  diskFreeAt: number;
}

/** Runs one seed on RaftNodes: `await runNodeSimulation(options)`. */
export function runNodeSimulation(options: NodeSimulationOptions): Promise<SimulationResult> {
  return new NodeSimulation(options).run();
}

export class NodeSimulation {
  // The nodes: each one's current life, and what its disk acknowledged (for the checker: a
  // crashed node votes with this log).
  private readonly lives = new Map<NodeId, Incarnation>();
  private readonly durable = new Map<NodeId, MemoryStorage>();
  private readonly retired = new Set<NodeId>();
  private readonly disks: SimDisks;
  private readonly raftOptions: SimRaftOptions;
  // The run: its seed's draws, weather, network, events and checker.
  /** The seed's generator, the node ids, the chaos budget, the weather, the journal. */
  private readonly seeded: ReturnType<typeof startRun>;
  private readonly queue = new EventQueue<NodeSimEvent>();
  private readonly network: SimNetwork;
  private readonly checker = new SafetyChecker();
  private readonly stats: SimulationResult['stats'];
  /** Acknowledged writes, checked against what the checker saw committed. */
  private acks: { id: NodeId; index: number; term: number }[] = [];
  private now = 0;
  private epochSeq = 0;
  private commandSeq = 0;
  private chaosPhase = true;
  private violation: InvariantViolation | null = null;
  private unsafeCommitsOfTheDead = 0;

  constructor(private readonly options: NodeSimulationOptions) {
    this.seeded = startRun(options);
    this.stats = this.seeded.journal.stats;
    this.raftOptions = {
      ...weatherRaftOptions(this.seeded.w),
      // Followers forward proposals to the leader in half the runs (the other half refuse them).
      forwardProposals: this.seeded.random.chance(0.5),
      ...options.raft,
    };
    this.disks = options.disks ?? new MemoryDisks();
    this.network = new SimNetwork(this.seeded.random.fork(), weatherNetwork(this.seeded.w));
    this.queue.push(this.seeded.w.clientIntervalMs, { kind: 'client' });
    this.queue.push(this.seeded.random.int(this.seeded.w.faultMinMs, this.seeded.w.faultMaxMs), {
      kind: 'fault',
    });
  }

  async run(): Promise<SimulationResult> {
    let violation: string | null = null;
    try {
      // Every node bootstraps the founding membership through RaftNode.start, as in production.
      for (const id of this.seeded.ids) this.start(id);
      await this.runUntil(this.seeded.chaosMs, () => false);
      await this.heal();
      await this.awaitFreshCommit();
    } catch (err) {
      violation = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      this.record(`${this.now} violation ${violation}`);
    }
    this.stats.unsafeCommits = this.unsafeCommitsOfTheDead;
    for (const life of this.lives.values()) this.stats.unsafeCommits += life.node?.core.unsafeCommits ?? 0;
    return this.seeded.journal.result(this.options.seed, violation, this.network, this.checker);
  }

  /** Takes events up to `untilMs`, or until `done` says so after one. */
  private async runUntil(untilMs: number, done: () => boolean): Promise<boolean> {
    while ((this.queue.peekMs() ?? Number.POSITIVE_INFINITY) <= untilMs) {
      const ev = this.queue.pop();
      if (!ev) break;
      this.now = ev.atMs;
      this.stats.events++;
      const touched = this.runEvent(ev.value);
      // Let every promise the event settled run to its end (they all resolve by microtasks:
      // setImmediate's callback runs only once the microtask queue is empty).
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.violation) throw this.violation;
      if (touched !== null) this.check(touched);
      if (done()) return true;
    }
    return false;
  }

  private runEvent(ev: NodeSimEvent): NodeId | null {
    switch (ev.kind) {
      case 'call':
        if (this.lives.get(ev.id)?.epoch !== ev.epoch) return null; // its node crashed since
        ev.fn();
        return ev.id;
      case 'deliver': {
        const m = ev.message;
        const deliver = this.lives.get(m.to)?.deliver;
        if (!deliver || !this.network.connected(m.from, m.to)) return null;
        this.record(
          `${this.now} ${m.type} ${m.from}>${m.to} t${m.term} i${m.index} n${m.entries.length} c${m.commit}`,
        );
        deliver([m]);
        return m.to;
      }
      case 'client':
        this.queue.push(this.now + this.seeded.w.clientIntervalMs, ev);
        return this.clientRequest();
      case 'crash':
        if (this.chaosPhase) this.crash(ev.id);
        return null;
      case 'fault':
        if (!this.chaosPhase) return null;
        this.injectFault();
        this.queue.push(
          this.now + this.seeded.random.int(this.seeded.w.faultMinMs, this.seeded.w.faultMaxMs),
          ev,
        );
        return null;
    }
  }

  /** Phase 2: heal the network, restart every node, retire the removed members. */
  private async heal(): Promise<void> {
    this.now = this.seeded.chaosMs;
    this.chaosPhase = false;
    this.network.heal();
    this.network.faults = RELIABLE_NETWORK;
    for (const id of this.seeded.ids) this.restart(id);
    await new Promise<void>((resolve) => setImmediate(resolve));
    // The node that knows the most committed entries knows the latest membership.
    const cores = [...this.lives.values()].flatMap((l) => (l.node ? [l.node.core] : []));
    const authority = cores.sort((a, b) => b.log.committed - a.log.committed)[0];
    for (const id of this.seeded.ids) {
      if (authority && !authority.membership.has(id)) {
        this.crash(id);
        this.retired.add(id);
      }
    }
    this.record(`${this.now} healed`);
  }

  /** Liveness: within the heal budget a leader's write is acknowledged and every member applies it. */
  private async awaitFreshCommit(): Promise<void> {
    let probe: { index: number; term: number } | null = null;
    let asking = false;
    const done = () => {
      const leader = this.leader();
      if (leader && this.stats.healedLeaderAfterMs < 0)
        this.stats.healedLeaderAfterMs = this.now - this.seeded.chaosMs;
      if (leader && !asking && !probe) {
        asking = true;
        leader.propose(textEncoder.encode('after-heal'), { timeoutMs: CLIENT_TIMEOUT_MS }).then(
          (outcome) => {
            probe = { index: outcome.index, term: outcome.term };
            asking = false;
          },
          (err: unknown) => {
            this.expectRaftError(err);
            asking = false;
          },
        );
      }
      return probe !== null && this.everyMemberApplied(probe);
    };
    if (!(await this.runUntil(this.seeded.chaosMs + SIM_HEAL_BUDGET_MS, done))) {
      throw livenessViolation(this.seeded.chaosMs);
    }
  }

  private everyMemberApplied(probe: { index: number; term: number }): boolean {
    const members = this.leader()?.core.membership;
    if (!members) return false;
    return this.seeded.ids.every((id) => {
      const node = this.lives.get(id)?.node;
      if (this.retired.has(id) || !members.has(id)) return true;
      if (!node || node.applied < probe.index) return false;
      const { log } = node.core;
      return log.term(probe.index) === probe.term || probe.index <= log.snapshotMeta.index;
    });
  }

  private record(line: string): void {
    this.seeded.journal.record(line);
  }

  /** The first violation wins; it ends the run after the event that caused it. */
  private guard(body: () => void): void {
    try {
      body();
    } catch (err) {
      if (!(err instanceof InvariantViolation)) throw err;
      this.violation ??= err;
    }
  }

  /** A client operation may fail the ways the node's API says (not leader, timed out, ...);
   *  anything else is a bug in the driver. */
  private expectRaftError(err: unknown): void {
    if (err instanceof RaftError) return;
    this.violation ??= new InvariantViolation(`client operation failed unexpectedly: ${String(err)}`);
  }

  private liveLeaders() {
    return this.seeded.ids.flatMap((id) => {
      const core = this.lives.get(id)?.node?.core;
      return core?.role === 'leader' ? [{ id, raft: core }] : [];
    });
  }

  private leader(): RaftNode<number> | null {
    const top = this.liveLeaders().sort((a, b) => b.raft.term - a.raft.term)[0];
    return top ? (this.lives.get(top.id)?.node ?? null) : null;
  }

  private logViews(id: NodeId): LogView[] {
    const views = [storageLogView(this.durable.get(id) ?? new MemoryStorage())];
    const core = this.lives.get(id)?.node?.core;
    if (core) views.push(memoryLogView(core.log));
    return views;
  }

  /** Safety checks after every event that touched `id`; also where leaders get struck down. */
  private check(id: NodeId): void {
    const raft = this.lives.get(id)?.node?.core;
    if (!raft) return;
    const { checker, chaosPhase, now } = this;
    checkAfterEvent({ ...this.seeded, checker, chaosPhase, now }, id, raft, {
      leaders: () => this.liveLeaders(),
      views: () => this.seeded.ids.map((n) => ({ id: n, views: this.logViews(n) })),
      crash: () => this.crash(id),
      crashAt: (atMs) => this.queue.push(atMs, { kind: 'crash', id }),
    });
    for (const ack of this.acks) this.checker.acknowledged(ack.id, ack.index, ack.term);
    this.acks = [];
  }

  // ---------------------------------------------------------------- one node's life

  /** Starts a new life of node `id` on its disk; it is up once RaftNode.start resolves. */
  private start(id: NodeId): void {
    const life: Incarnation = {
      epoch: ++this.epochSeq,
      down: false,
      node: null,
      deliver: null,
      diskFreeAt: 0,
    };
    this.lives.set(id, life);
    const alive = () => this.lives.get(id) === life;
    const later = (delayMs: number, fn: () => void) =>
      this.queue.push(this.now + Math.max(0, delayMs), { kind: 'call', id, epoch: life.epoch, fn });
    const clock: TimerClock = {
      nowMs: () => this.now,
      wallMs: () => this.now,
      setTimeout: (fn, delayMs) => {
        let cancelled = false;
        later(delayMs, () => cancelled || fn());
        return { cancel: () => void (cancelled = true) };
      },
    };
    const transport: Transport = {
      start: (handlers) => {
        if (alive()) life.deliver = handlers.deliver;
      },
      send: (messages) => {
        if (!alive()) return;
        for (const m of messages) {
          for (const d of this.network.route(m, this.now)) {
            this.queue.push(d.atMs, { kind: 'deliver', message: d.message });
          }
        }
      },
      setPeers: () => {},
      close: async () => {},
    };
    const machine = new HashMachine((index, hash) => this.guard(() => this.checker.applied(id, index, hash)));
    this.disks
      .open(id)
      .then((disk) =>
        RaftNode.start<number>({
          id,
          members: this.seeded.ids.map((m) => ({ id: m })),
          storage: this.simulatedDisk(id, life, disk, later),
          transport,
          stateMachine: machine,
          clock,
          nextTurn: (fn) => later(0, fn),
          tickMs: SIM_TICK_MS,
          snapshotEntries:
            this.seeded.w.snapshotEvery > 0 ? this.seeded.w.snapshotEvery : Number.MAX_SAFE_INTEGER,
          seed: this.seeded.random.int(0, 2 ** 31),
          bootId: textEncoder.encode(`${id}.${life.epoch}`.padEnd(8, '.').slice(0, 8)),
          core: this.raftOptions,
        }),
      )
      .then(
        (node) => {
          if (!alive()) return;
          life.node = node;
          node.on('fatal', (err: unknown) => {
            if (alive()) this.violation ??= new InvariantViolation(`node ${id} stopped: ${String(err)}`);
          });
        },
        (err: unknown) => {
          if (alive()) this.violation ??= new InvariantViolation(`node ${id} did not start: ${String(err)}`);
        },
      );
  }

  /**
   * Storage as the simulation's disk: each write takes a seeded time, one at a time, and is
   * lost if its node crashes first. Crash points: as a write starts (for a leader whose appends
   * already left, diss. §10.2.1: its own copy is lost) and as it completes (durable, but its
   * messages never sent).
   */
  private simulatedDisk(
    id: NodeId,
    life: Incarnation,
    disk: RaftStorage,
    later: (delayMs: number, fn: () => void) => void,
  ): RaftStorage {
    const write = (update: StorageUpdate | null, run: () => Promise<void>) =>
      new Promise<void>((resolve) => {
        // Start-up writes (the founding membership) are done before the node is up: not raced.
        if (!life.node) {
          run().then(resolve);
          return;
        }
        if (this.chaosPhase && update && update.entries.length > 0) {
          const core = life.node?.core;
          if (core?.role === 'leader' && this.seeded.random.chance(this.seeded.w.crashAfterWriteRate)) {
            this.stats.crashesBeforePersist++;
            this.crash(id);
            return;
          }
        }
        life.diskFreeAt = Math.max(life.diskFreeAt, this.now) + this.seeded.random.int(0, DISK_DELAY_MAX_MS);
        later(life.diskFreeAt - this.now, () => {
          // A power cut in the middle of this write, on disks that can tear one.
          const torn =
            this.chaosPhase &&
            this.disks.powerLossDuringWrite &&
            this.seeded.random.chance(this.seeded.w.crashAfterWriteRate);
          if (torn) this.disks.powerLossDuringWrite?.(id, this.seeded.random.int(0, TORN_WRITE_OPS_MAX));
          run().then(
            () => {
              if (this.lives.get(id) !== life) return;
              if (
                torn ||
                (this.chaosPhase && update && this.seeded.random.chance(this.seeded.w.crashAfterWriteRate))
              ) {
                this.crash(id);
                return;
              }
              resolve();
            },
            (err: unknown) => {
              // The power went out mid-write: the node dies with it. Any other failure is a bug.
              if (!torn)
                this.violation ??= new InvariantViolation(`node ${id}'s disk failed: ${String(err)}`);
              if (this.lives.get(id) === life) this.crash(id);
            },
          );
        });
      });
    const durable = () => this.durable.get(id) as MemoryStorage;
    return {
      load: async () => {
        const state = await disk.load();
        const view = new MemoryStorage();
        if (state)
          view.saveSync({ snapshot: state.snapshot, entries: state.entries, hardState: state.hardState });
        this.durable.set(id, view);
        return state;
      },
      save: (update) =>
        write(update, async () => {
          await disk.save(update);
          durable().saveSync(update);
          if (update.snapshot) this.stats.snapshotsInstalled++;
          this.guard(() => this.checker.persisted(id, storageLogView(durable()).termAt, update.entries));
        }),
      saveSnapshot: (snapshot) =>
        write(null, async () => {
          await disk.saveSnapshot(snapshot);
          durable().saveSnapshotSync(snapshot);
        }),
      close: () => disk.close(),
    };
  }

  /** A crash: the node object is dropped mid-flight; its timers, writes and messages die with it. */
  private crash(id: NodeId): void {
    const life = this.lives.get(id);
    if (!life || life.down) return;
    this.unsafeCommitsOfTheDead += life.node?.core.unsafeCommits ?? 0;
    this.lives.set(id, { epoch: ++this.epochSeq, down: true, node: null, deliver: null, diskFreeAt: 0 });
    this.disks.powerLoss(id);
    this.stats.crashes++;
    this.record(`${this.now} crash ${id}`);
  }

  private restart(id: NodeId): void {
    if (!this.lives.get(id)?.down || this.retired.has(id)) return;
    this.start(id);
    this.record(`${this.now} restart ${id}`);
  }

  /** A client at a random node: a membership change at the leader (chaos only), a linearizable
   *  read or a write, through the node's public API. */
  private clientRequest(): NodeId | null {
    const { random } = this.seeded;
    if (this.chaosPhase && random.chance(this.seeded.w.confChangeRate)) return this.changeMembership();
    const id = random.pick(this.seeded.ids);
    const node = this.lives.get(id)?.node;
    if (!node) return null;
    if (random.chance(0.3)) {
      const committedAtStart = this.checker.maxCommitted;
      node.readIndex({ timeoutMs: CLIENT_TIMEOUT_MS }).then(
        (index) => {
          this.stats.readsChecked++;
          this.guard(() => this.checker.readReturned(id, index, committedAtStart));
        },
        (err: unknown) => this.expectRaftError(err),
      );
    } else {
      node.propose(textEncoder.encode(`c${this.commandSeq++}`), { timeoutMs: CLIENT_TIMEOUT_MS }).then(
        (outcome) => this.acks.push({ id, index: outcome.index, term: outcome.term }),
        (err: unknown) => this.expectRaftError(err),
      );
    }
    return id;
  }

  /** Single-server membership changes through the node's API: remove a voter (keeping a
   *  minimum), re-add a removed node as a learner, or promote a learner once it caught up. */
  private changeMembership(): NodeId | null {
    const { random, ids } = this.seeded;
    const leader = this.leader();
    if (!leader) return null;
    const m = leader.core.membership;
    const voters = m.voters();
    const learners = m.all().filter((id) => !m.isVoter(id));
    const removed = ids.filter((id) => !m.has(id));
    const choices: (() => [string, Promise<void>])[] = [];
    const opts = { timeoutMs: CLIENT_TIMEOUT_MS };
    if (voters.length > (ids.length <= 3 ? 2 : 3)) {
      const id = random.pick(voters);
      choices.push(() => [`remove ${id}`, leader.removeMember(id, opts)]);
    }
    if (learners.length > 0) {
      const id = random.pick(learners);
      choices.push(() => [`addVoter ${id}`, leader.addMember({ id }, opts)]);
    }
    if (removed.length > 0) {
      const id = random.pick(removed);
      choices.push(() => [`addLearner ${id}`, leader.addLearner({ id }, opts)]);
    }
    if (choices.length === 0) return null;
    const [what, done] = random.pick(choices)();
    this.stats.confChangesProposed++;
    this.record(`${this.now} conf ${what}`);
    done.catch((err: unknown) => this.expectRaftError(err));
    return leader.id;
  }

  /** One fault from the seed's weather (weather.ts drawFault). */
  private injectFault(): void {
    const { ids } = this.seeded;
    const up = ids.filter((id) => !this.lives.get(id)?.down);
    const fault = drawFault(this.seeded.random, this.seeded.w, ids, up, this.liveLeaders()[0]?.id);
    if (fault?.kind === 'crash') this.crash(fault.id);
    else if (fault?.kind === 'restartAll') for (const id of ids) this.restart(id);
    else if (fault) this.record(applyNetworkFault(this.network, fault, this.now, this.stats));
  }
}

/** The command that replays one seed of test/node-sim.test.ts, with its trace. */
export function nodeReplayCommand(seed: number, nodeCount: number, disk: 'memory' | 'file'): string {
  const env = `DDIA_SEED=${seed} RAFT_NODES=${nodeCount}${disk === 'file' ? ' RAFT_DISK=file' : ''}`;
  return `${env} npx vitest run --project raft test/node-sim.test.ts`;
}
