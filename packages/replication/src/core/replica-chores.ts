// What a multi-leader and a leaderless replica share besides their write paths: a failure
// detector fed by every message and by pings to every peer (so quiet links still say they are
// alive), one Merkle exchange with the next live peer in turn, and collecting the tombstones
// whose grace period has passed.
import type { AeMessage, AntiEntropy } from './anti-entropy.js';
import { FailureDetector } from './failure-detector.js';
import { collectTombstones } from './key-state.js';
import type { KeyRecord } from './ready.js';
import type { ReplicaStore } from './replica-store.js';
import type { NodeId } from './version-vector.js';

/** Tombstones are looked at least this often, however long their grace period. */
const TOMBSTONE_SCAN_MAX_EVERY_MS = 60_000;

export interface ChoresConfig {
  pingEveryMs: number;
  suspectAfterMs: number;
  /** 0 turns anti-entropy off. */
  antiEntropyEveryMs: number;
  tombstoneGraceMs: number;
}

/** The replica the chores run for. */
export interface ChoresNode {
  readonly store: ReplicaStore;
  readonly antiEntropy: AntiEntropy;
}

/** Where the chores put their messages and records (the replica's Ready buffer). */
export interface ChoresOut {
  send(peer: NodeId, msg: { type: 'ping' } | { type: 'pong' } | AeMessage): void;
  persist(record: KeyRecord): void;
}

export class ReplicaChores {
  private readonly detector: FailureDetector;
  private lastPingMs: number;
  private lastAntiEntropyMs: number;
  private lastScanMs: number;
  private antiEntropyTurn = 0;

  constructor(
    private readonly config: ChoresConfig,
    private readonly peers: readonly NodeId[],
    private readonly node: ChoresNode,
    private readonly out: ChoresOut,
    startMs: number,
    /** The peers Merkle exchanges go to (a multi-leader topology's push targets); all by default. */
    private readonly exchangePeers: readonly NodeId[] = peers,
  ) {
    this.detector = new FailureDetector(peers, startMs, config.suspectAfterMs);
    this.lastPingMs = this.lastAntiEntropyMs = this.lastScanMs = startMs;
  }

  /** Every message is a sign of life; a ping gets its pong. True when nothing is left to do. */
  heard(from: NodeId, msg: { type: string }, nowMs: number): boolean {
    this.detector.heard(from, nowMs);
    if (msg.type === 'ping') this.out.send(from, { type: 'pong' });
    return msg.type === 'ping' || msg.type === 'pong';
  }

  /** Whether a peer was heard from lately (a guess: a slow peer looks dead). */
  alive(peer: NodeId, nowMs: number): boolean {
    return this.detector.alive(peer, nowMs);
  }

  ping(nowMs: number): void {
    if (nowMs - this.lastPingMs < this.config.pingEveryMs) return;
    this.lastPingMs = nowMs;
    for (const peer of this.peers) this.out.send(peer, { type: 'ping' });
  }

  /** Starts a Merkle exchange and collects tombstones when due; returns the keys collected. */
  background(nowMs: number, wallMs: number): number {
    const { antiEntropyEveryMs, tombstoneGraceMs } = this.config;
    if (antiEntropyEveryMs > 0 && nowMs - this.lastAntiEntropyMs >= antiEntropyEveryMs) {
      this.lastAntiEntropyMs = nowMs;
      const live = this.exchangePeers.filter((peer) => this.detector.alive(peer, nowMs));
      if (live.length > 0) {
        const peer = live[this.antiEntropyTurn++ % live.length] as NodeId;
        this.out.send(peer, this.node.antiEntropy.start(peer));
      }
    }
    if (nowMs - this.lastScanMs < Math.min(tombstoneGraceMs, TOMBSTONE_SCAN_MAX_EVERY_MS)) return 0;
    this.lastScanMs = nowMs;
    let collectedKeys = 0;
    for (const [key, stored] of [...this.node.store.entries()]) {
      const collected = collectTombstones(stored.state, wallMs, tombstoneGraceMs);
      if (collected === stored.state) continue;
      collectedKeys++;
      this.node.store.replace(key, collected);
      this.out.persist({ kind: 'key', key, state: collected });
    }
    return collectedKeys;
  }
}
