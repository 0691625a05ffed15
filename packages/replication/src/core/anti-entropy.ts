// Anti-entropy between two replicas over the Merkle trees of the keys they share: compare level
// by level, descend only into differing subtrees, then swap the states of the differing
// buckets. Both sides merge what they receive, so one exchange leaves both in sync. The bytes
// of every message are counted: the experiment compares them with the keys out of sync.
import type { KeyState } from './key-state.js';
import { bucketOf, MERKLE_DEPTH, MerkleTree } from './merkle.js';
import type { ReplicaStore } from './replica-store.js';
import type { NodeId } from './version-vector.js';

export type AeMessage =
  | { type: 'ae-level'; round: number; level: number; indices: number[]; hashes: number[] }
  | { type: 'ae-keys'; round: number; buckets: number[]; states: [string, KeyState][]; answer: boolean };

export interface AeStats {
  roundsStarted: number;
  messagesSent: number;
  bytesSent: number;
  statesSent: number;
  /** Keys whose state changed here because of an exchange: how far out of sync we were. */
  keysRepaired: number;
}

export class AntiEntropy {
  readonly stats: AeStats = {
    roundsStarted: 0,
    messagesSent: 0,
    bytesSent: 0,
    statesSent: 0,
    keysRepaired: 0,
  };
  private readonly trees = new Map<NodeId, { version: number; tree: MerkleTree }>();
  private round = 0;

  constructor(
    private readonly store: ReplicaStore,
    /** Whether this replica and `peer` both hold `key` (both compare the same key set). */
    private readonly shares: (key: string, peer: NodeId) => boolean,
  ) {}

  /** The first message of an exchange with `peer`: our root. */
  start(peer: NodeId): AeMessage {
    this.stats.roundsStarted++;
    const tree = this.treeFor(peer);
    return this.count({ type: 'ae-level', round: ++this.round, level: 0, indices: [0], hashes: [tree.root] });
  }

  /** Handles an exchange message; returns the answer to send (if any) and the keys that changed. */
  handle(peer: NodeId, msg: AeMessage): { answer: AeMessage | null; changed: string[] } {
    if (msg.type === 'ae-level') {
      const tree = this.treeFor(peer);
      const differing = msg.indices.filter((index, i) => tree.hashAt(msg.level, index) !== msg.hashes[i]);
      if (differing.length === 0) return { answer: null, changed: [] };
      if (msg.level === MERKLE_DEPTH) {
        return { answer: this.count(this.keysMessage(peer, msg.round, differing, true)), changed: [] };
      }
      const indices = differing.flatMap((index) => [2 * index, 2 * index + 1]);
      const hashes = indices.map((index) => tree.hashAt(msg.level + 1, index));
      return {
        answer: this.count({ type: 'ae-level', round: msg.round, level: msg.level + 1, indices, hashes }),
        changed: [],
      };
    }
    const changed: string[] = [];
    for (const [key, state] of msg.states) {
      if (!this.shares(key, peer)) continue;
      if (this.store.merge(key, state)) changed.push(key);
    }
    this.stats.keysRepaired += changed.length;
    const answer = msg.answer ? this.count(this.keysMessage(peer, msg.round, msg.buckets, false)) : null;
    return { answer, changed };
  }

  private keysMessage(peer: NodeId, round: number, buckets: number[], answer: boolean): AeMessage {
    const wanted = new Set(buckets);
    const states: [string, KeyState][] = [];
    for (const [key, stored] of this.store.entries()) {
      if (wanted.has(bucketOf(key)) && this.shares(key, peer)) states.push([key, stored.state]);
    }
    this.stats.statesSent += states.length;
    return { type: 'ae-keys', round, buckets, states, answer };
  }

  private count(msg: AeMessage): AeMessage {
    this.stats.messagesSent++;
    this.stats.bytesSent += JSON.stringify(msg).length;
    return msg;
  }

  private treeFor(peer: NodeId): MerkleTree {
    const cached = this.trees.get(peer);
    if (cached && cached.version === this.store.version) return cached.tree;
    const shared: [string, number][] = [];
    for (const [key, stored] of this.store.entries())
      if (this.shares(key, peer)) shared.push([key, stored.hash]);
    const tree = MerkleTree.build(shared);
    this.trees.set(peer, { version: this.store.version, tree });
    return tree;
  }
}
