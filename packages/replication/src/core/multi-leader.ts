// Multi-leader replication (DDIA ch. 5, "Multi-Leader Replication"): every node is a leader.
// A write is applied and acknowledged locally, then pushed asynchronously along the cluster's
// topology (topology.ts: all-to-all by default, circular or star as in Figure 5-8). Concurrent writes to one key at two leaders are conflicts: detected
// when a pushed state meets a local one neither has seen, and resolved by the key's type —
// siblings kept for the client (mv), the later timestamp (lww: a write stamped by a slow clock
// silently loses), or a CRDT merge (counter, set, map).
import type { Clock } from '@ddia/common/core';
import { type AeMessage, AntiEntropy } from './anti-entropy.js';
import { applyMutation, type KeyState, type Mutation, viewOf } from './key-state.js';
import { type KeyRecord, type Ready, ReadyBuffer } from './ready.js';
import { ReplicaChores } from './replica-chores.js';
import { ReplicaStore } from './replica-store.js';
import { pushTargets, type Topology } from './topology.js';
import type { NodeId } from './version-vector.js';

export interface MultiLeaderConfig {
  id: NodeId;
  nodes: NodeId[];
  /** Which leaders a leader pushes to (Figure 5-8); the others get its writes relayed. */
  topology: Topology;
  /** How often dirty keys are pushed to each peer. */
  pushEveryMs: number;
  pushBatchMax: number;
  /** A push not acknowledged within this is sent again. */
  pushTimeoutMs: number;
  pingEveryMs: number;
  suspectAfterMs: number;
  antiEntropyEveryMs: number;
  tombstoneGraceMs: number;
}

export const MULTI_LEADER_DEFAULTS = {
  topology: 'all-to-all',
  pushEveryMs: 50,
  pushBatchMax: 256,
  pushTimeoutMs: 1_000,
  pingEveryMs: 250,
  suspectAfterMs: 1_500,
  antiEntropyEveryMs: 5_000,
  tombstoneGraceMs: 10 * 60_000,
} as const satisfies Partial<MultiLeaderConfig>;

export type MultiLeaderMessage =
  | { type: 'ping' }
  | { type: 'pong' }
  | { type: 'push'; batch: number; states: [string, KeyState][] }
  | { type: 'push-ok'; batch: number }
  | AeMessage;

export type MultiLeaderRequest =
  | { kind: 'read'; key: string }
  | { kind: 'write'; key: string; mutation: Mutation };

export interface MultiLeaderStats {
  writes: number;
  pushesSent: number;
  statesReceived: number;
  /** Pushed states that met a concurrent local version: siblings appeared, or LWW dropped one. */
  conflictsDetected: number;
  /** LWW conflicts: a value that was on this node vanished because the other was stamped later. */
  lwwDiscarded: number;
  /** Keys whose tombstones outlived their grace period and were dropped. */
  tombstonesCollected: number;
}

interface InFlight {
  batch: number;
  keys: [string, number][];
  sentMs: number;
}

export class MultiLeaderNode {
  readonly store = new ReplicaStore();
  readonly antiEntropy: AntiEntropy;
  readonly stats: MultiLeaderStats = {
    writes: 0,
    pushesSent: 0,
    statesReceived: 0,
    conflictsDetected: 0,
    lwwDiscarded: 0,
    tombstonesCollected: 0,
  };
  private readonly out = new ReadyBuffer<MultiLeaderMessage>();
  /** The leaders this one pushes to (its topology's targets). */
  private readonly peers: NodeId[];
  /** Per peer: keys changed since last acknowledged, with the local change number. */
  private readonly dirty = new Map<NodeId, Map<string, number>>();
  private readonly inFlight = new Map<NodeId, InFlight>();
  private changes = 0;
  private nextBatch = 1;
  private readonly chores: ReplicaChores;
  private lastPushMs: number;

  constructor(
    readonly config: MultiLeaderConfig,
    private readonly clock: Clock,
  ) {
    if (!config.nodes.includes(config.id)) throw new RangeError(`${config.id} is not among the nodes`);
    this.peers = pushTargets(config.topology, config.nodes, config.id);
    for (const peer of this.peers) this.dirty.set(peer, new Map());
    const now = clock.nowMs();
    this.lastPushMs = now;
    this.antiEntropy = new AntiEntropy(this.store, () => true);
    // Pings go to every leader (so /cluster knows who is up), Merkle exchanges only along the
    // topology: repairing across it would hide what a broken ring or a dead hub does.
    const everyone = config.nodes.filter((node) => node !== config.id);
    this.chores = new ReplicaChores(config, everyone, this, this.out, now, this.peers);
  }

  /** Replays a durable record. The push queue is not durable: a restarted node pushes every key again. */
  restore(record: KeyRecord): void {
    if (record.kind !== 'key') return;
    this.store.replace(record.key, record.state);
    this.markDirty(record.key);
  }

  /** Records that rebuild this node's durable state on their own (journal compaction). */
  snapshot(): KeyRecord[] {
    const records: KeyRecord[] = [];
    for (const [key, stored] of this.store.entries()) records.push({ kind: 'key', key, state: stored.state });
    return records;
  }

  drain(): Ready<MultiLeaderMessage> {
    return this.out.drain();
  }

  alive(peer: NodeId): boolean {
    return peer === this.config.id || this.chores.alive(peer, this.clock.nowMs());
  }

  /** Replication lag to a peer, in keys not yet acknowledged. */
  backlog(peer: NodeId): number {
    return this.dirty.get(peer)?.size ?? 0;
  }

  request(requestId: number, request: MultiLeaderRequest): void {
    if (request.kind === 'read') {
      const state = this.store.get(request.key);
      this.out.reply(requestId, {
        ok: true,
        view: state ? viewOf(state) : null,
        detail: { node: this.config.id },
      });
      return;
    }
    let state: KeyState;
    try {
      state = applyMutation(
        this.store.get(request.key),
        request.mutation,
        this.config.id,
        this.clock.wallMs(),
      );
    } catch (error) {
      this.out.fail(requestId, 'typeMismatch', (error as Error).message);
      return;
    }
    this.stats.writes++;
    this.mergeLocal(request.key, state);
    const merged = this.store.get(request.key) as KeyState;
    // Acknowledged once on this leader's disk: the peers learn of it later (asynchronous).
    this.out.reply(requestId, { ok: true, view: viewOf(merged), detail: { node: this.config.id } });
  }

  step(from: NodeId, msg: MultiLeaderMessage): void {
    if (this.chores.heard(from, msg, this.clock.nowMs())) return;
    switch (msg.type) {
      case 'push':
        for (const [key, state] of msg.states) this.receive(from, key, state);
        this.out.send(from, { type: 'push-ok', batch: msg.batch });
        return;
      case 'push-ok': {
        const flight = this.inFlight.get(from);
        if (!flight || flight.batch !== msg.batch) return;
        this.inFlight.delete(from);
        const dirty = this.dirty.get(from);
        for (const [key, change] of flight.keys) if (dirty?.get(key) === change) dirty.delete(key);
        return;
      }
      case 'ae-level':
      case 'ae-keys': {
        const { answer, changed } = this.antiEntropy.handle(from, msg);
        for (const key of changed) {
          this.out.persist({ kind: 'key', key, state: this.store.get(key) as KeyState });
          this.markDirty(key, from);
        }
        if (answer) this.out.send(from, answer);
        return;
      }
    }
  }

  /** A peer's state for a key: merge it and note whether it conflicted with ours. */
  private receive(from: NodeId, key: string, incoming: KeyState): void {
    this.stats.statesReceived++;
    const before = this.store.get(key);
    if (!this.store.merge(key, incoming)) return;
    const after = this.store.get(key) as KeyState;
    this.out.persist({ kind: 'key', key, state: after });
    // Relay what is new to us: on a ring or a star that is how a write reaches the leaders
    // past this one; all-to-all needs none, but a node cut off from the writer (a partition)
    // then gets it from anyone who has it. A state we already had stops here.
    this.markDirty(key, from);
    if (!before) return;
    if (after.type === 'mv' && before.type === 'mv') {
      const liveBefore = before.store.entries.filter((e) => e.value.value !== null).length;
      const liveAfter = after.store.entries.filter((e) => e.value.value !== null).length;
      if (liveAfter > 1 && liveAfter > liveBefore) this.stats.conflictsDetected++;
    } else if (
      after.type === 'lww' &&
      before.type === 'lww' &&
      before.register.node !== after.register.node
    ) {
      if (before.register.value !== null) {
        this.stats.conflictsDetected++;
        this.stats.lwwDiscarded++;
      }
    }
  }

  tick(): void {
    const now = this.clock.nowMs();
    this.chores.ping(now);
    if (now - this.lastPushMs >= this.config.pushEveryMs) {
      this.lastPushMs = now;
      for (const peer of this.peers) this.push(peer, now);
    }
    this.stats.tombstonesCollected += this.chores.background(now, this.clock.wallMs());
  }

  private push(peer: NodeId, now: number): void {
    const flight = this.inFlight.get(peer);
    if (flight && now - flight.sentMs < this.config.pushTimeoutMs) return;
    const dirty = this.dirty.get(peer);
    if (!dirty || dirty.size === 0 || !this.alive(peer)) return;
    const keys: [string, number][] = [];
    const states: [string, KeyState][] = [];
    for (const [key, change] of dirty) {
      if (keys.length >= this.config.pushBatchMax) break;
      const state = this.store.get(key);
      if (!state) continue;
      keys.push([key, change]);
      states.push([key, state]);
    }
    const batch = this.nextBatch++;
    this.inFlight.set(peer, { batch, keys, sentMs: now });
    this.stats.pushesSent++;
    this.out.send(peer, { type: 'push', batch, states });
  }

  private mergeLocal(key: string, state: KeyState): void {
    if (!this.store.merge(key, state)) return;
    this.out.persist({ kind: 'key', key, state: this.store.get(key) as KeyState });
    this.markDirty(key);
  }

  /** Queues the key for every peer but `except` (the one it just came from). */
  private markDirty(key: string, except?: NodeId): void {
    const change = ++this.changes;
    for (const peer of this.peers) if (peer !== except) this.dirty.get(peer)?.set(key, change);
  }
}
