// An in-memory network for deterministic simulation: every message gets a delivery time drawn
// from a seeded generator, so messages are delayed and reordered; some are dropped or
// duplicated; partitions cut links in both directions. Nothing here reads a real clock.
import type { Random } from '@ddia/common';
import type { Message, NodeId } from '../core/types.js';

export interface NetworkFaults {
  /** Probability that a message is lost. */
  dropRate: number;
  /** Probability that a message is delivered twice. */
  duplicateRate: number;
  delayMinMs: number;
  delayMaxMs: number;
}

export const RELIABLE_NETWORK: NetworkFaults = {
  dropRate: 0,
  duplicateRate: 0,
  delayMinMs: 1,
  delayMaxMs: 5,
};

export interface Delivery {
  atMs: number;
  message: Message;
}

export class SimNetwork {
  faults: NetworkFaults;
  /** Node id -> partition group; nodes in different groups cannot talk. */
  private groups = new Map<NodeId, number>();
  sent = 0;
  dropped = 0;

  constructor(
    private readonly random: Random,
    faults: NetworkFaults = RELIABLE_NETWORK,
  ) {
    this.faults = faults;
  }

  partition(groups: NodeId[][]): void {
    this.groups.clear();
    groups.forEach((g, i) => {
      for (const id of g) this.groups.set(id, i);
    });
  }

  heal(): void {
    this.groups.clear();
  }

  connected(a: NodeId, b: NodeId): boolean {
    return (this.groups.get(a) ?? 0) === (this.groups.get(b) ?? 0);
  }

  /** The deliveries of one sent message: none (lost), one, or two (duplicated). */
  route(message: Message, nowMs: number): Delivery[] {
    this.sent++;
    if (!this.connected(message.from, message.to) || this.random.chance(this.faults.dropRate)) {
      this.dropped++;
      return [];
    }
    const copies = this.random.chance(this.faults.duplicateRate) ? 2 : 1;
    const out: Delivery[] = [];
    for (let i = 0; i < copies; i++) {
      out.push({ atMs: nowMs + this.random.int(this.faults.delayMinMs, this.faults.delayMaxMs), message });
    }
    return out;
  }
}
