// A move's target as a learner (CockroachDB's learner replicas, MongoDB's chunk-migration
// catch-up): once the target has copied the snapshot and caught up on the change log, the owner
// sends it every later write of the partition before acknowledging that write, so at the handoff
// there is nothing left to copy and the frozen window holds only the seal and the flip's commit.
//
// The learner is registered in the same step as the owner answers the target's catch-up
// (partition-store.ts `changes`), so every change is either in that answer or fed here, in
// order (the owner writes a partition under its lock). A feed that fails only ends the learner:
// the write is still acknowledged, and the final pull of the move (data/receiver.ts) copies what
// the target missed. The learner is never part of the in-sync replicas: nothing but the move
// relies on it.
import type { HttpClient } from '@ddia/common';
import type { ConfigMachine } from '../controller/config-machine.js';
import type { Change } from '../data/partition-store.js';

/** Longest a learner may take to take one change before the owner stops feeding it. */
export const FEED_TIMEOUT_MS = 2_000;

interface Learner {
  node: string;
  url: string;
  /** The last change the learner holds (its acknowledged feed, or the catch-up's end). */
  seq: number;
  /** The learner's process (partition-store.ts `generation`) that acknowledged `seq`, once a
   *  feed was acknowledged. */
  generation?: string;
}

export interface LearnersEnv {
  selfId: string;
  machine: ConfigMachine;
  client: HttpClient;
  log: { warn(obj: object, msg: string): void };
  onFed: (outcome: 'ok' | 'failed') => void;
}

export class Learners {
  private readonly byPartition = new Map<number, Learner>();

  constructor(private readonly env: LearnersEnv) {}

  /** `node` (at `url`, its process `generation`) holds the partition up to `seq`; feed it
   *  every later change. */
  register(partitionId: number, node: string, url: string, seq: number, generation?: string): void {
    this.byPartition.set(partitionId, { node, url, seq, ...(generation ? { generation } : {}) });
  }

  /** What `node`, as the partition's learner, acknowledged holding: up to `seq`, in the process
   *  `generation` (unknown until its first feed). */
  heldBy(partitionId: number, node: string): { seq: number; generation?: string } | null {
    const learner = this.byPartition.get(partitionId);
    if (learner?.node !== node) return null;
    return { seq: learner.seq, ...(learner.generation ? { generation: learner.generation } : {}) };
  }

  forget(partitionId: number): void {
    this.byPartition.delete(partitionId);
  }

  /**
   * Sends one change to the partition's learner, if it has one (the caller holds the
   * partition's lock and the change is durable here). Never rejects: a learner that does not
   * take the change, or whose move is over, is forgotten.
   */
  async feed(partitionId: number, change: Change): Promise<void> {
    const learner = this.byPartition.get(partitionId);
    if (!learner) return;
    const config = this.env.machine.config;
    const partition = config?.partitions.find((p) => p.id === partitionId);
    if (!config || partition?.owner !== this.env.selfId || partition.target !== learner.node) {
      this.byPartition.delete(partitionId);
      return;
    }
    try {
      const ack = await this.env.client.json<{ seq: number; generation: string }>(
        `${learner.url}/internal/partitions/${partitionId}/learn`,
        {
          method: 'POST',
          body: { epoch: config.epoch, owner: this.env.selfId, changes: [change] },
          deadlineMs: FEED_TIMEOUT_MS,
          retry: false,
        },
      );
      learner.seq = ack.seq;
      learner.generation = ack.generation;
      this.env.onFed('ok');
    } catch (error) {
      this.env.onFed('failed');
      if (this.byPartition.get(partitionId) === learner) this.byPartition.delete(partitionId);
      this.env.log.warn(
        { partition: partitionId, learner: learner.node, err: error },
        'the move target missed a change; the final pull will copy it',
      );
    }
  }
}
