// A cluster stepped by hand: messages wait in a queue until the test delivers them, time moves
// only by `tick`, disks are instant. Scenario tests and transcripts drive it; the safety
// checker watches every step.
import { SeededRandom } from '@ddia/common';
import { bootstrapState } from '../core/raft.js';
import type { ConfChange, Message, NodeId } from '../core/types.js';
import { SafetyChecker } from './checker.js';
import { SimNode, type SimRaftOptions } from './sim-node.js';

export interface ClusterOptions {
  ids: NodeId[];
  seed?: number;
  raft?: SimRaftOptions;
  /** Ids that start with empty storage (to join later) instead of the founding membership. */
  joiners?: NodeId[];
}

const textEncoder = new TextEncoder();

export class Cluster {
  readonly nodes = new Map<NodeId, SimNode>();
  readonly checker = new SafetyChecker();
  /** Messages sent and not yet delivered, in send order. */
  queue: Message[] = [];
  private readonly cut = new Set<string>();
  private readonly random: SeededRandom;
  /** With a fixed membership, also check that no node missing a committed entry could win. */
  private readonly fixedMembership: boolean;

  constructor(options: ClusterOptions) {
    this.random = new SeededRandom(options.seed ?? 1);
    this.fixedMembership = (options.joiners ?? []).length === 0;
    const founders = options.ids.filter((id) => !options.joiners?.includes(id));
    const boot = bootstrapState(founders.map((id) => ({ id })));
    for (const id of options.ids) {
      const node = new SimNode(id, options.raft ?? {}, this.random, this.checker);
      if (founders.includes(id)) {
        node.storage.saveSync({ snapshot: null, entries: boot.entries, hardState: boot.hardState });
      }
      node.start();
      this.nodes.set(id, node);
    }
    for (const id of options.ids) this.settle(id);
  }

  node(id: NodeId): SimNode {
    const n = this.nodes.get(id);
    if (!n) throw new RangeError(`no node ${id}`);
    return n;
  }

  raft(id: NodeId) {
    const r = this.node(id).raft;
    if (!r) throw new RangeError(`node ${id} is down`);
    return r;
  }

  /** Process every Ready of node `id`, queueing its messages, then check the invariants. */
  settle(id: NodeId): void {
    const node = this.node(id);
    for (;;) {
      const msgs = node.processReady();
      if (node.raft === null || (msgs.length === 0 && !node.raft.hasReady())) break;
      this.queue.push(...msgs);
    }
    this.check(id);
  }

  private check(id: NodeId): void {
    const raft = this.node(id).raft;
    if (!raft) return;
    this.checker.observe(id, raft);
    const leaders = [...this.nodes.values()]
      .filter((n) => n.raft?.role === 'leader')
      .map((n) => ({ id: n.id, raft: n.raft as NonNullable<SimNode['raft']> }));
    this.checker.checkLeaders(leaders);
    if (this.fixedMembership) {
      const nodes = [...this.nodes.values()].map((n) => ({ id: n.id, views: n.logViews() }));
      this.checker.checkPotentialLeaders(nodes, Math.floor(nodes.length / 2) + 1);
    }
  }

  tick(ids: NodeId[] = [...this.nodes.keys()], times = 1): void {
    for (let t = 0; t < times; t++) {
      for (const id of ids) {
        const raft = this.node(id).raft;
        if (!raft) continue;
        raft.tick();
        this.settle(id);
      }
    }
  }

  campaign(id: NodeId): void {
    this.raft(id).campaign();
    this.settle(id);
  }

  propose(id: NodeId, command: string): boolean {
    const result = this.raft(id).propose(textEncoder.encode(command));
    this.settle(id);
    return result.ok;
  }

  proposeConfChange(id: NodeId, cc: ConfChange): boolean {
    const result = this.raft(id).proposeConfChange(cc);
    this.settle(id);
    return result.ok;
  }

  readIndex(id: NodeId, context: string): boolean {
    const ok = this.raft(id).readIndex(context);
    this.settle(id);
    return ok;
  }

  transferLeadership(from: NodeId, to: NodeId): boolean {
    const ok = this.raft(from).transferLeadership(to);
    this.settle(from);
    return ok;
  }

  /** Cut (or restore) the links between two groups, both directions. */
  partition(groups: NodeId[][]): void {
    this.cut.clear();
    for (let i = 0; i < groups.length; i++) {
      for (let j = 0; j < groups.length; j++) {
        if (i === j) continue;
        for (const a of groups[i]) for (const b of groups[j]) this.cut.add(`${a}>${b}`);
      }
    }
  }

  isolate(id: NodeId): void {
    this.partition([[id], [...this.nodes.keys()].filter((x) => x !== id)]);
  }

  heal(): void {
    this.cut.clear();
  }

  crash(id: NodeId): void {
    this.node(id).crash();
    this.queue = this.queue.filter((m) => m.to !== id && m.from !== id);
  }

  restart(id: NodeId): void {
    const node = this.node(id);
    if (!node.up) node.start();
    this.settle(id);
  }

  /** Deliver queued messages (optionally only those matching `filter`) until none remain.
   *  Returns the messages delivered, for transcripts. */
  deliver(filter: (m: Message) => boolean = () => true, rounds = Number.POSITIVE_INFINITY): Message[] {
    const delivered: Message[] = [];
    for (let round = 0; round < rounds; round++) {
      const batch = this.queue.filter(filter);
      if (batch.length === 0) break;
      this.queue = this.queue.filter((m) => !filter(m));
      for (const m of batch) {
        const target = this.nodes.get(m.to);
        if (!target?.raft || this.cut.has(`${m.from}>${m.to}`)) continue;
        delivered.push(m);
        target.raft.step(m);
        this.settle(m.to);
      }
    }
    return delivered;
  }

  /** Drop queued messages matching `filter`. */
  drop(filter: (m: Message) => boolean = () => true): number {
    const before = this.queue.length;
    this.queue = this.queue.filter((m) => !filter(m));
    return before - this.queue.length;
  }

  /** Tick everyone and deliver everything until a leader emerges (or give up). */
  stabilize(ticksMax = 200): NodeId | null {
    for (let t = 0; t < ticksMax; t++) {
      this.deliver();
      const leader = this.leader();
      if (leader && this.queue.length === 0) return leader;
      this.tick();
    }
    this.deliver();
    return this.leader();
  }

  /** The leader with the highest term among live nodes, if any. */
  leader(): NodeId | null {
    let best: SimNode | null = null;
    for (const n of this.nodes.values()) {
      if (n.raft?.role === 'leader' && (!best || n.raft.term > (best.raft?.term ?? 0))) best = n;
    }
    return best?.id ?? null;
  }
}
